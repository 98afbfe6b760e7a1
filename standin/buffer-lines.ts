/**
 * What llama.cpp itself says it allocated for a context: its `KV buffer
 * size` and `compute buffer size` lines, read with memtrace's own parser of
 * runner logs, for contexts made in turn through the stand-in runner's code
 * path (`loadRunnerModel`) in one process. A context is disposed before the
 * next is made, so one load serves every shape; making the 18 contexts of
 * the nine shapes with flash attention on and off took about 30 s on a
 * 2-core machine, most of it clearing the 2 GiB KV cache of 32768 × 4.
 */
import { otherLine } from '../core/parse/server-log/other-lines.js'
import { computeBytes, kvBytesPerSlot, type ModelFacts, UBATCH } from '../core/plan.js'
import { loadRunnerModel, nodeLlamaCpp, runnerLlama } from './llama-runner.js'
import { SLIDING_TINY_SHAPE, TINY_SHAPE, type TinyShape, WIDE_VOCAB_TINY_SHAPE } from './tiny-model.js'

export interface BufferShape {
  ctx: number
  np: number
  flashAttention: boolean
  /** llama.cpp's micro-batch (node-llama-cpp sets n_ubatch to the batch). */
  batch: number
}

export interface BufferLines extends BufferShape {
  kvBytes: number
  computeBytes: number
  /** The micro-batch llama.cpp says it ran with (`n_ubatch`): node-llama-cpp adds one for a sliding-window model. */
  ubatch: number
}

/** The KV and compute buffers llama.cpp printed among `lines` (each summed over its devices), or what is missing. */
export function buffersOf(lines: string[]): { kvBytes: number; computeBytes: number; ubatch: number } | string {
  const sum = { kv: 0, compute: 0 }
  const seen = new Set<string>()
  let ubatch: number | undefined
  for (const line of lines.flatMap(l => l.split('\n'))) {
    const u = /^llama_context: n_ubatch += (\d+)$/.exec(line.trim())
    if (u) ubatch = Number(u[1])
    const e = otherLine(line.trim())
    if (!e || !('kind' in e) || e.kind !== 'allocation' || (e.component !== 'kv' && e.component !== 'compute')) continue
    sum[e.component] += e.figures?.sizeBytes ?? 0
    seen.add(e.component)
  }
  if (!seen.has('kv') || !seen.has('compute')) return `llama.cpp printed no ${seen.has('kv') ? 'compute' : 'KV'} buffer line`
  if (ubatch === undefined) return 'llama.cpp printed no n_ubatch line'
  return { kvBytes: sum.kv, computeBytes: sum.compute, ubatch }
}

/**
 * Loads each model in turn (one llama.cpp for all) and makes a context of
 * each shape, reading llama.cpp's lines for it. Undefined when
 * node-llama-cpp is not installed.
 */
export async function measureBuffers(modelPaths: string[], shapes: BufferShape[]): Promise<BufferLines[][] | undefined> {
  const llamaCpp = await nodeLlamaCpp()
  if (!llamaCpp) return undefined
  const lines: string[] = []
  const llama = await runnerLlama(llamaCpp, { message: m => lines.push(m) })
  const out: BufferLines[][] = []
  try {
    for (const path of modelPaths) {
      const { model, createContext } = await loadRunnerModel(llama, path)
      const rows: BufferLines[] = []
      try {
        for (const s of shapes) {
          lines.length = 0
          const context = await createContext({ ...s, threads: 2 })
          // llama.cpp's lines reach the logger through the event loop: let those of this context arrive.
          for (let i = 0; i < 3; i++) await new Promise(ok => setImmediate(ok))
          await context.dispose()
          const b = buffersOf(lines)
          if (typeof b === 'string') throw new Error(`${s.ctx} × ${s.np}, flash attention ${s.flashAttention ? 'on' : 'off'}: ${b}`)
          rows.push({ ...s, ...b })
        }
      } finally {
        await model.dispose()
      }
      out.push(rows)
    }
  } finally {
    await llama.dispose()
  }
  return out
}

/** The models of the plan's check: the stand-in's own, one whose logits outweigh its attention, and a gemma3 with sliding windows. */
export const PLAN_MODELS: { name: string; title: string; shape: TinyShape }[] = [
  { name: 'memtrace-tiny', title: 'memtrace-tiny (llama, 289 tokens)', shape: TINY_SHAPE },
  { name: 'memtrace-tiny-vocab', title: 'memtrace-tiny-vocab (llama, 32,000 tokens, 4 KV heads)', shape: WIDE_VOCAB_TINY_SHAPE },
  { name: 'memtrace-tiny-sliding', title: 'memtrace-tiny-sliding (gemma3, 10 of 12 layers with a window of 256)', shape: SLIDING_TINY_SHAPE },
]

/** The nine shapes of the plan's check (context 2048, 8192, 32768 × 1, 2, 4 slots), flash attention off and on, at Ollama's batch of 512. */
export const PLAN_SHAPES: BufferShape[] = [false, true].flatMap(flashAttention =>
  [2048, 8192, 32768].flatMap(ctx => [1, 2, 4].map(np => ({ ctx, np, flashAttention, batch: UBATCH }))),
)

/** One shape: llama.cpp's KV + compute against the plan's, and the plan's error on their sum. */
export interface PlanCheck extends BufferLines {
  planKvBytes: number
  planComputeBytes: number
  /** (plan − llama.cpp) ÷ llama.cpp, on KV + compute. */
  error: number
}

export function checkPlan(facts: ModelFacts, measured: BufferLines[]): PlanCheck[] {
  return measured.map(m => {
    const planKvBytes = kvBytesPerSlot(facts, m.ctx, 'f16', m.ubatch) * m.np
    const planComputeBytes = computeBytes(facts, m.ctx, m.np, m.flashAttention, m.ubatch)
    const real = m.kvBytes + m.computeBytes
    return { ...m, planKvBytes, planComputeBytes, error: (planKvBytes + planComputeBytes - real) / real }
  })
}
