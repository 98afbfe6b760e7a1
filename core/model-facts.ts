/**
 * The facts `plan` needs, from a GGUF header's metadata as read: each one a
 * whole number within what a model can have, or an error naming the key.
 * A NaN block count or a context of 2^32 − 1 is a broken or hostile file,
 * never a plan of NaN MiB or 3e23 bytes. Pure: `model-files.ts` reads.
 */
import type { ModelFacts } from './plan.js'
import { oneLine } from './safe-text.js'

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
    const vocab = optional('vocab_size')
    return { arch: name, blocks, trainedContext, embedding, heads, kvHeads, keyLength, valueLength, ...(vocab !== undefined ? { vocab } : {}) }
  } catch (e) {
    if (e instanceof Impossible) return e.message
    throw e
  }
}
