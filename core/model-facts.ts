/**
 * The facts `plan` needs, from a GGUF header's metadata as read: each one a
 * whole number within what a model can have, or an error naming the key.
 * A NaN block count or a context of 2^32 − 1 is a broken or hostile file,
 * never a plan of NaN MiB or 3e23 bytes. Pure: `model-files.ts` reads.
 */
import type { ModelFacts } from './plan.js'
import { oneLine } from './safe-text.js'
import { SLIDING, slidingLayerCount } from './sliding-window.js'

/**
 * The most each count may be: far past every model published (Llama 3.1
 * 405B has 126 blocks and a 16,384-wide embedding; Llama 4 Scout is trained
 * for 10,485,760 tokens; Gemma 3's vocabulary is 262,144), yet small enough
 * that no sum overflows into nonsense.
 */
export const FACT_LIMITS = {
  block_count: 4096,
  context_length: 2 ** 26,
  embedding_length: 2 ** 20,
  'attention.head_count': 2 ** 16,
  'attention.head_count_kv': 2 ** 16,
  'attention.key_length': 2 ** 16,
  'attention.value_length': 2 ** 16,
  vocab_size: 2 ** 24,
  feed_forward_length: 2 ** 24,
  'attention.sliding_window': 2 ** 26,
  'attention.sliding_window_pattern': 4096,
} as const
type Key = keyof typeof FACT_LIMITS

/** What went wrong with one key, named as the file names it. */
class Impossible extends Error {}

function shown(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v)
  if (typeof v === 'string') return JSON.stringify(oneLine(v).slice(0, 32))
  if (Array.isArray(v)) return `an array of ${v.length}`
  return typeof v
}

/** A whole number within [min, limit], from a GGUF number (u64 values come as bigints). */
function count(name: string, v: unknown, min: number, limit: number): number {
  const n = typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : Number.NaN) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > limit) {
    throw new Impossible(`impossible metadata: ${name} is ${shown(v)}, where a model has a whole number from ${min} to ${limit}`)
  }
  return n
}

/**
 * The facts, or what is missing or impossible. Per-layer arrays (a head
 * count that differs by layer, as llama.cpp allows) are read as such: the
 * KV heads are summed over the layers (a layer of 0 holds no KV cache), the
 * attention heads are their most.
 */
export function factsFromMetadata(md: Record<string, unknown>): ModelFacts | string {
  const arch = md['general.architecture']
  if (typeof arch !== 'string') return 'no general.architecture'
  // The name is the file's: printed, it must not carry a terminal escape.
  const name = oneLine(arch).slice(0, 64)
  const key = (k: Key) => `${name}.${k}`
  const raw = (k: Key) => md[`${arch}.${k}`]
  if ((['block_count', 'embedding_length', 'attention.head_count', 'context_length'] as const).some(k => raw(k) === undefined)) {
    return `the ${name} metadata lacks block_count, embedding_length, attention.head_count or context_length`
  }
  try {
    const one = (k: Key, min = 1) => count(key(k), raw(k), min, FACT_LIMITS[k])
    const optional = (k: Key) => (raw(k) === undefined ? undefined : one(k))
    const blocks = one('block_count')
    // Per layer, a count of 0 is a layer without attention (a recurrent one); in all, some layer must have heads.
    const perLayer = (k: Key): number[] | undefined => {
      const v = raw(k)
      if (!Array.isArray(v)) return undefined
      if (v.length !== blocks) throw new Impossible(`impossible metadata: ${key(k)} has ${v.length} layers, where ${key('block_count')} says ${blocks}`)
      return v.map((x, i) => count(`${key(k)}[${i}]`, x, 0, FACT_LIMITS[k]))
    }
    const headsByLayer = perLayer('attention.head_count')
    const heads = headsByLayer ? Math.max(...headsByLayer) : one('attention.head_count')
    if (heads < 1) throw new Impossible(`impossible metadata: ${key('attention.head_count')} is 0 in every layer: a model without attention has no KV cache for plan to sum`)
    const kvByLayer = perLayer('attention.head_count_kv')
    const kvHeads = kvByLayer ? kvByLayer.reduce((a, n) => a + n, 0) / blocks : (optional('attention.head_count_kv') ?? heads)
    if (kvByLayer && kvHeads === 0) throw new Impossible(`impossible metadata: ${key('attention.head_count_kv')} is 0 in every layer: no layer keeps a KV cache`)
    const embedding = one('embedding_length')
    const trainedContext = one('context_length')
    const head = Math.round(embedding / heads)
    const keyLength = optional('attention.key_length') ?? head
    const valueLength = optional('attention.value_length') ?? head
    if (keyLength < 1 || valueLength < 1) throw new Impossible(`impossible metadata: ${key('embedding_length')} ${embedding} over ${heads} heads leaves no head dimension`)
    // Without vocab_size, the tokenizer's token list gives it (llama.cpp reads its length, src/llama-vocab.cpp).
    const tokens = md['tokenizer.ggml.tokens']
    const vocab = optional('vocab_size') ?? (Array.isArray(tokens) && tokens.length > 0 ? count('tokenizer.ggml.tokens (its length)', tokens.length, 1, FACT_LIMITS.vocab_size) : undefined)
    const ffByLayer = perLayer('feed_forward_length')
    const feedForward = ffByLayer ? Math.max(...ffByLayer) : optional('feed_forward_length')
    const sliding = slidingFacts(arch, blocks, raw)
    return {
      arch: name,
      blocks,
      trainedContext,
      embedding,
      heads,
      kvHeads,
      keyLength,
      valueLength,
      ...(vocab !== undefined ? { vocab } : {}),
      ...(feedForward ? { feedForward } : {}),
      ...sliding,
    }
  } catch (e) {
    if (e instanceof Impossible) return e.message
    throw e
  }
}

/**
 * The sliding window and how many blocks use it, as llama.cpp sets them for
 * the architectures it runs with one (`sliding-window.ts`): the window from
 * `<arch>.attention.sliding_window` (or the architecture's default), the
 * layers from `<arch>.attention.sliding_window_pattern` (a period, or one
 * flag a layer) or the architecture's own period. Nothing for an
 * architecture llama.cpp runs with full attention in every layer.
 */
function slidingFacts(arch: string, blocks: number, raw: (k: Key) => unknown): { slidingWindow?: number; slidingLayers?: number } {
  const rule = SLIDING[arch]
  const pattern = raw('attention.sliding_window_pattern')
  if (!rule && !Array.isArray(pattern)) return {}
  const key = (k: Key) => `${oneLine(arch).slice(0, 64)}.${k}`
  const w = raw('attention.sliding_window')
  const window = w !== undefined ? count(key('attention.sliding_window'), w, 0, FACT_LIMITS['attention.sliding_window']) : rule?.defaultWindow
  if (!window || (rule?.onlyWithBlocks !== undefined && rule.onlyWithBlocks !== blocks)) return {}
  let layers: number
  if (Array.isArray(pattern)) {
    if (pattern.length < blocks) throw new Impossible(`impossible metadata: ${key('attention.sliding_window_pattern')} has ${pattern.length} layers, where ${key('block_count')} says ${blocks}`)
    layers = pattern.slice(0, blocks).filter(x => x === true || x === 1).length
  } else if (pattern !== undefined) {
    layers = slidingLayerCount(blocks, count(key('attention.sliding_window_pattern'), pattern, 0, FACT_LIMITS['attention.sliding_window_pattern']), rule?.denseFirst ?? false)
  } else if (rule) {
    layers = slidingLayerCount(blocks, rule.period, rule.denseFirst ?? false)
  } else return {}
  return layers > 0 ? { slidingWindow: window, slidingLayers: layers } : {}
}
