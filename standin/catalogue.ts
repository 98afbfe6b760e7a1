import type { ModelShape } from './gguf-writer.js'
import { TINY_SHAPE, tinyVocabulary } from './tiny-model.js'
/**
 * Models the stand-in can "pull": real names, sizes and details as the Ollama
 * library lists them, so /api/ps and `ollama ps` look as they would.
 */
export interface CatalogueModel {
  name: string
  sizeBytes: number
  family: string
  parameterSize: string
  quantization: string
  /** What the model's GGUF header says of its shape (written into the stand-in's weights blob). */
  shape: ModelShape
  /** KV cache bytes per token of context (f16): blocks × KV heads × (key + value length) × 2. */
  kvBytesPerToken: number
  /** The context the model was trained for; num_ctx is clamped to it. */
  trainedContext: number
  /** The stand-in's own small model: its weights blob is the file the runner runs. */
  runnable?: boolean
}

function model(name: string, sizeBytes: number, parameterSize: string, shape: ModelShape, o: { quantization?: string; runnable?: boolean } = {}): CatalogueModel {
  const head = shape.embedding / shape.heads
  const kv = shape.blocks * shape.kvHeads * ((shape.keyLength ?? head) + (shape.valueLength ?? head)) * 2
  return { name, sizeBytes, family: shape.arch, parameterSize, quantization: o.quantization ?? 'Q4_K_M', ...(o.runnable ? { runnable: true } : {}), shape: { ...shape, name }, kvBytesPerToken: kv, trainedContext: shape.contextLength }
}

/** The size of bench/tiny-model.ts's file (a test checks it against the file written). */
export const TINY_MODEL_BYTES = 42_585_536

/** Shapes as the models' GGUF headers give them (block count, heads, KV heads, widths, context, vocabulary). */
export const CATALOGUE: CatalogueModel[] = [
  model('llama3.2:3b', 2_019_393_189, '3.2B', { arch: 'llama', blocks: 28, contextLength: 131_072, embedding: 3072, heads: 24, kvHeads: 8, keyLength: 128, valueLength: 128, vocab: 128_256 }),
  model('qwen2.5-coder:7b', 4_683_087_332, '7.6B', { arch: 'qwen2', blocks: 28, contextLength: 32_768, embedding: 3584, heads: 28, kvHeads: 4, vocab: 152_064 }),
  model('qwen3:8b', 5_225_387_923, '8.2B', { arch: 'qwen3', blocks: 36, contextLength: 40_960, embedding: 4096, heads: 32, kvHeads: 8, keyLength: 128, valueLength: 128, vocab: 151_936 }),
  model('phi4:14b', 9_053_116_391, '14.7B', { arch: 'phi3', blocks: 40, contextLength: 16_384, embedding: 5120, heads: 40, kvHeads: 10, vocab: 100_352 }),
  model('qwen3-coder:30b', 18_556_699_863, '30.5B', { arch: 'qwen3moe', blocks: 48, contextLength: 262_144, embedding: 2048, heads: 32, kvHeads: 4, keyLength: 128, valueLength: 128, vocab: 151_936 }),
  model('llama3.3:70b', 42_520_413_916, '70.6B', { arch: 'llama', blocks: 80, contextLength: 131_072, embedding: 8192, heads: 64, kvHeads: 8, vocab: 128_256 }),
  // Not a library model: the small model with random weights that the stand-in's llama.cpp runner runs (bench/tiny-model.ts).
  model('memtrace-tiny:latest', TINY_MODEL_BYTES, '21M', { ...TINY_SHAPE, vocab: tinyVocabulary().tokens.length }, { quantization: 'F16', runnable: true }),
]

export function findModel(name: string): CatalogueModel | undefined {
  const full = name.includes(':') ? name : `${name}:latest`
  return CATALOGUE.find(m => m.name === full || m.name === name)
}
