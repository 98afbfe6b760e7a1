/**
 * What a model should need, from its GGUF metadata: weights + KV cache per
 * slot × slots + compute estimate, set against a host's memory (`memtrace
 * plan`, `render --plan`, the experiments). Pure sums; `model-files.ts` reads
 * the facts from a models folder.
 */

import { computeBytes, kvBytesPerSlot, type KvType, type ModelFacts } from './llama-buffers.js'

export { computeBytes, KV_BYTES, kvBytesPerSlot, slidingCells, UBATCH } from './llama-buffers.js'
export type { KvType, ModelFacts } from './llama-buffers.js'

export interface PlanOptions {
  numCtx: number
  numParallel: number
  kvType: KvType
  flashAttention: boolean
}

export interface Plan {
  model: string
  weightsBytes: number
  kvBytesPerSlot: number
  slots: number
  contextLength: number
  computeBytes: number
  osReserveBytes: number
  totalBytes: number
  memTotalBytes: number
  vramTotalBytes?: number
  /** The most slots that fit in memory at this context; 0 when not even one does. */
  maxParallel: number
  /** The longest context (a power of two, up to the trained one) that fits with these slots; 0 when none. */
  maxContext: number
  kvType: KvType
  flashAttention: boolean
}

export function plan(name: string, m: ModelFacts, weightsBytes: number, host: { memTotalBytes: number; osReserveBytes: number; vramTotalBytes?: number }, asked: PlanOptions): Plan {
  // Ollama caps the context at what the model was trained for: so does the plan.
  const o = { ...asked, numCtx: capContext(m, asked.numCtx) }
  const total = (ctx: number, slots: number) => weightsBytes + kvBytesPerSlot(m, ctx, o.kvType) * slots + computeBytes(m, ctx, slots, o.flashAttention) + host.osReserveBytes
  const fits = (ctx: number, slots: number) => total(ctx, slots) <= host.memTotalBytes
  let maxParallel = 0
  while (maxParallel < 1024 && fits(o.numCtx, maxParallel + 1)) maxParallel++
  let maxContext = 0
  for (let ctx = 2048; ctx <= Math.max(2048, m.trainedContext); ctx *= 2) if (fits(ctx, o.numParallel)) maxContext = ctx
  return {
    model: name,
    weightsBytes,
    kvBytesPerSlot: kvBytesPerSlot(m, o.numCtx, o.kvType),
    slots: o.numParallel,
    contextLength: o.numCtx,
    computeBytes: computeBytes(m, o.numCtx, o.numParallel, o.flashAttention),
    osReserveBytes: host.osReserveBytes,
    totalBytes: total(o.numCtx, o.numParallel),
    memTotalBytes: host.memTotalBytes,
    ...(host.vramTotalBytes !== undefined ? { vramTotalBytes: host.vramTotalBytes } : {}),
    maxParallel,
    maxContext,
    kvType: o.kvType,
    flashAttention: o.flashAttention,
  }
}

/** The context a runner gets: what was asked, at most the trained context (as Ollama clamps it). */
export function capContext(m: ModelFacts, numCtx: number): number {
  return m.trainedContext > 0 ? Math.min(numCtx, m.trainedContext) : numCtx
}

/** What a runner itself should hold: weights, the KV cache of every slot, and the compute buffers (no OS share). */
export function runnerBytes(m: ModelFacts, weightsBytes: number, asked: PlanOptions): number {
  const o = { ...asked, numCtx: capContext(m, asked.numCtx) }
  return weightsBytes + kvBytesPerSlot(m, o.numCtx, o.kvType) * o.numParallel + computeBytes(m, o.numCtx, o.numParallel, o.flashAttention)
}

/** `MODEL[:CTX:NP]`: a model name (which may hold a colon itself), then optionally its context and slots. */
export function parsePlanSpec(spec: string): { model: string; numCtx: number; numParallel: number } | undefined {
  const parts = spec.split(':')
  const tail = parts.slice(-2)
  if (parts.length >= 3 && tail.every(p => /^\d+$/.test(p))) {
    // Two numbers at the end are CTX and NP: a zero or a huge one is a mistake, not part of a name.
    if (!tail.every(p => /^[1-9]\d{0,7}$/.test(p))) return undefined
    return { model: parts.slice(0, -2).join(':'), numCtx: Number(tail[0]), numParallel: Number(tail[1]) }
  }
  return spec.trim() === '' ? undefined : { model: spec, numCtx: 4096, numParallel: 1 }
}

