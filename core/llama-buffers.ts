/**
 * What llama.cpp allocates for a context beside the weights: the KV cache of
 * each slot (sliding-window layers hold only their window) and the compute
 * buffer its scheduler reserves. Pure sums from a model's facts, after the
 * llama.cpp that node-llama-cpp 3.22.1 bundles (the rules are cited where
 * they are used); `docs/bench.md` sets them against that llama.cpp's own
 * buffer lines.
 */

/** Bytes per cached element by KV cache type: f16, and ggml's q8_0 (34 bytes per 32) and q4_0 (18 per 32). */
export const KV_BYTES: Record<KvType, number> = { f16: 2, q8_0: 34 / 32, q4_0: 18 / 32 }
export type KvType = 'f16' | 'q8_0' | 'q4_0'
/** Tokens llama.cpp computes in one micro-batch (Ollama's and llama.cpp's default). */
export const UBATCH = 512

/** What `plan` reads from a model's GGUF header. */
export interface ModelFacts {
  arch: string
  blocks: number
  trainedContext: number
  embedding: number
  heads: number
  kvHeads: number
  keyLength: number
  valueLength: number
  vocab?: number
  /** The widest feed-forward layer (`<arch>.feed_forward_length`, the most of a per-layer list). */
  feedForward?: number
  /** Sliding-window attention: the window in tokens, and how many of the blocks use it (the rest attend to the whole context). */
  slidingWindow?: number
  slidingLayers?: number
}

/** ggml's GGML_PAD: up to a multiple of n. */
const pad = (x: number, n: number) => Math.ceil(x / n) * n

/**
 * Cells a sliding-window layer keeps per slot: llama_kv_cache_iswa's
 * `GGML_PAD(min(size_base, n_swa + n_ubatch), 256)` (src/llama-kv-cache-iswa.cpp),
 * where each slot has a stream of its own, as Ollama's runner and
 * node-llama-cpp run it (a unified cache, one stream for all slots, would
 * hold n_swa × slots + n_ubatch instead). A layer without a window keeps
 * the whole context.
 */
export function slidingCells(m: ModelFacts, ctx: number, ubatch = UBATCH): number {
  return m.slidingWindow && m.slidingLayers ? pad(Math.min(ctx, m.slidingWindow + ubatch), 256) : ctx
}

/** KV cache of one slot: keys and values of every block for the cells it keeps (its window for a sliding layer, the context otherwise). */
export function kvBytesPerSlot(m: ModelFacts, ctx: number, kv: KvType, ubatch = UBATCH): number {
  const sliding = m.slidingWindow ? (m.slidingLayers ?? 0) : 0
  const cells = (m.blocks - sliding) * ctx + sliding * slidingCells(m, ctx, ubatch)
  return Math.round(cells * m.kvHeads * (m.keyLength + m.valueLength) * KV_BYTES[kv])
}

/**
 * The compute buffer llama.cpp reserves (llama_context::sched_reserve in
 * src/llama-context.cpp): one graph of n_tokens = min(n_ctx, n_ubatch)
 * tokens with every slot and every cell of the KV cache in view, all
 * outputs. ggml's allocator frees each tensor after its last use, so the
 * buffer is the largest of the graph's phases, not their sum:
 *
 * - the KQ masks (inputs: cells × tokens, f16 with flash attention, f32
 *   without; one for the full layers, one for the sliding ones), live
 *   through the attention and feed-forward phases;
 * - attention: without flash attention, the scores of the batch against the
 *   cells of one slot's stream (cells × tokens × heads, f32; a slot's stream
 *   is its own, so they do not grow with slots), beside the block's
 *   activations (about five rows of the model's width and two of the KV
 *   width per token, as ggml packs them; fitted to this llama.cpp's reports);
 *   with it, those activations and the attention output;
 * - the feed-forward: four rows of its width per token (gate, up, their
 *   product, the activation);
 * - the output: the logits of every token (vocabulary × tokens) beside three
 *   rows of the model's width.
 *
 * The output buffer (the logits of one token a slot, in host memory) is
 * llama.cpp's separate, small `output buffer` and not counted here.
 */
export function computeBytes(m: ModelFacts, ctx: number, slots: number, flash: boolean, ubatch = UBATCH): number {
  const f32 = 4
  const tokens = Math.min(ctx * Math.max(1, slots), ubatch)
  const sliding = m.slidingWindow ? (m.slidingLayers ?? 0) : 0
  const swaCells = slidingCells(m, ctx, ubatch)
  const maskCell = flash ? 2 : 4
  const masks = tokens * maskCell * ((sliding < m.blocks ? ctx : 0) + (sliding > 0 ? swaCells : 0))
  // The widest attention a layer does: against the whole context, unless every layer slides.
  const cells = sliding < m.blocks ? ctx : swaCells
  const kvWidth = m.kvHeads * m.keyLength
  const activations = (5 * m.embedding + 2 * kvWidth) * tokens * f32
  const attention = flash ? activations + m.heads * m.valueLength * tokens * f32 : cells * tokens * m.heads * f32 + activations
  const feedForward = 4 * (m.feedForward ?? 4 * m.embedding) * tokens * f32
  const output = ((m.vocab ?? 0) + 3 * m.embedding) * tokens * f32
  return Math.max(masks + attention, masks + feedForward, output)
}
