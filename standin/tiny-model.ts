/**
 * A small llama model that llama.cpp loads and runs: a real architecture with
 * random weights, written here so that nothing is downloaded. The stand-in's
 * runner generates with it, so that the KV cache and compute buffers are
 * llama.cpp's own and the speed is this machine's. Its words mean nothing.
 */
import { GGUF_FILE_TYPE_F16, type GgufTensor, type GgufValue, modelMetadata, type ModelShape, writeGguf } from './gguf-writer.js'

/** A model's shape with its feed-forward width and, optionally, a vocabulary size (else the tiny one, 289 tokens). */
export type TinyShape = ModelShape & { feedForward: number; vocabSize?: number; slidingWindow?: number }

/** 8 blocks, 512 wide, 8 heads and 8 KV heads of 64, a feed-forward of 1024: about 42 MB in f16. */
export const TINY_SHAPE: TinyShape = {
  arch: 'llama',
  name: 'memtrace-tiny',
  blocks: 8,
  contextLength: 32_768,
  embedding: 512,
  heads: 8,
  kvHeads: 8,
  feedForward: 1024,
}

/**
 * A small gemma3 (llama.cpp's src/models/gemma3.cpp: its extra norms, every
 * 6th layer global, the rest sliding): 12 blocks, 10 of them with a window
 * of 256 tokens, so that llama.cpp's sliding-window cache has something to
 * hold less of.
 */
export const SLIDING_TINY_SHAPE: TinyShape = { ...TINY_SHAPE, arch: 'gemma3', name: 'memtrace-tiny-sliding', blocks: 12, kvHeads: 4, slidingWindow: 256 }

/**
 * The small llama with a vocabulary of 32,000 tokens (Llama 2's), 4 KV heads
 * and a wider feed-forward: its logits outweigh its attention, as a real
 * model's do with flash attention on.
 */
export const WIDE_VOCAB_TINY_SHAPE: TinyShape = { ...TINY_SHAPE, name: 'memtrace-tiny-vocab', kvHeads: 4, feedForward: 1536, vocabSize: 32_000 }

/**
 * A SentencePiece vocabulary: unknown, begin and end, the 256 byte tokens
 * (so any text can be read), and some words so that the output has spaces.
 */
export function tinyVocabulary(size = 0): { tokens: string[]; scores: number[]; types: number[] } {
  const NORMAL = 1
  const UNKNOWN = 2
  const CONTROL = 3
  const BYTE = 6
  const tokens = ['<unk>', '<s>', '</s>']
  const types = [UNKNOWN, CONTROL, CONTROL]
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)
    types.push(BYTE)
  }
  // The space on its own, then words that begin with one: SentencePiece writes a space as ▁.
  for (const w of ['', ...WORDS]) {
    tokens.push(`▁${w}`)
    types.push(NORMAL)
  }
  // A larger vocabulary, where asked for one (a model shaped like a real one): numbered words up to `size`.
  for (let i = 0; tokens.length < size; i++) {
    tokens.push(`▁w${i}`)
    types.push(NORMAL)
  }
  // Bytes score lowest so that the words are preferred where they match.
  const scores = tokens.map((_, i) => (types[i] === NORMAL ? -i : -1000))
  return { tokens, scores, types }
}

const WORDS = 'the of and to a in is it that for on with as was this memory model runner server parallel context cache slot token swap page free used stand-in not llama'.split(' ')

/** Deterministic, so that the file and its digest are the same on every machine. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

/**
 * Random f16 values between about ±2⁻⁹ and ±2⁻⁵, made from their bits: small
 * enough that activations stay finite through the blocks.
 */
function randomF16(count: number, next: () => number): Buffer {
  const b = Buffer.alloc(count * 2)
  for (let i = 0; i < count; i++) {
    const r = next()
    const sign = (r & 1) << 15
    const exponent = 6 + ((r >>> 1) % 5) // 2^(6-15) … 2^(10-15)
    const mantissa = (r >>> 4) & 0x3ff
    b.writeUInt16LE(sign | (exponent << 10) | mantissa, i * 2)
  }
  return b
}

function ones(count: number): Buffer {
  const b = Buffer.alloc(count * 4)
  for (let i = 0; i < count; i++) b.writeFloatLE(1, i * 4)
  return b
}

/** The whole loadable file. */
export function tinyModelGguf(shape: TinyShape = TINY_SHAPE): Buffer {
  const { tokens, scores, types } = tinyVocabulary(shape.vocabSize)
  const e = shape.embedding
  const ff = shape.feedForward
  const kvWidth = shape.kvHeads * (e / shape.heads)
  const next = xorshift(42)
  const md: [string, GgufValue][] = [
    ...modelMetadata({ ...shape, vocab: tokens.length }),
    ['general.file_type', { type: 'u32', value: GGUF_FILE_TYPE_F16 }],
    [`${shape.arch}.feed_forward_length`, { type: 'u32', value: ff }],
    [`${shape.arch}.rope.dimension_count`, { type: 'u32', value: e / shape.heads }],
    [`${shape.arch}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: 1e-5 }],
    ...(shape.slidingWindow !== undefined ? ([[`${shape.arch}.attention.sliding_window`, { type: 'u32', value: shape.slidingWindow }]] as [string, GgufValue][]) : []),
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array-string', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'array-f32', value: scores }],
    ['tokenizer.ggml.token_type', { type: 'array-i32', value: types }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
  ]
  const f16 = (name: string, cols: number, rows: number): GgufTensor => ({ name, shape: [cols, rows], type: 'f16', data: randomF16(cols * rows, next) })
  const norm = (name: string, width = e): GgufTensor => ({ name, shape: [width], type: 'f32', data: ones(width) })
  const head = e / shape.heads
  const tensors: GgufTensor[] = [f16('token_embd.weight', e, tokens.length)]
  for (let i = 0; i < shape.blocks; i++) {
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      f16(`blk.${i}.attn_q.weight`, e, e),
      f16(`blk.${i}.attn_k.weight`, e, kvWidth),
      f16(`blk.${i}.attn_v.weight`, e, kvWidth),
      f16(`blk.${i}.attn_output.weight`, e, e),
      norm(`blk.${i}.ffn_norm.weight`),
      f16(`blk.${i}.ffn_gate.weight`, e, ff),
      f16(`blk.${i}.ffn_up.weight`, e, ff),
      f16(`blk.${i}.ffn_down.weight`, ff, e),
    )
    // gemma3 normalizes Q and K by head, and each block's attention and feed-forward outputs.
    if (shape.arch === 'gemma3') tensors.push(norm(`blk.${i}.attn_q_norm.weight`, head), norm(`blk.${i}.attn_k_norm.weight`, head), norm(`blk.${i}.post_attention_norm.weight`), norm(`blk.${i}.post_ffw_norm.weight`))
  }
  tensors.push(norm('output_norm.weight'), f16('output.weight', e, tokens.length))
  return writeGguf(md, tensors)
}
