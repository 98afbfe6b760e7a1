/** Each runner's memory three ways (Ollama's prediction, the allocation, the measurement) as records for --json. Pure. */
import type { RunnerMemory } from '../../schemas/index.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { formatTs } from '../../core/parse/time.js'
import { type Ctx, firstMs, lastMs } from './context.js'
import { actualOf } from './prediction.js'
import { placed } from './decisions.js'
import { errorPct, loadModel, measured, type RunnerFigures } from './loads.js'

/** One record per runner of the trace, then one per load of the log that ties to none and has a figure. */
export function runnerMemory(ctx: Ctx): RunnerMemory[] {
  const byRunner = new Map<ProcSeries, RunnerFigures>()
  for (const f of ctx.server?.figures ?? []) if (f.runner) byRunner.set(f.runner, f)
  const out: RunnerMemory[] = []
  for (const s of ctx.runners) {
    const f = byRunner.get(s)
    const r: RunnerMemory = { record: 'runner-memory', pid: s.pid }
    const model = f ? loadModel(f.load) : (s.model ?? s.blob)
    if (model) r.model = model
    r.firstSeen = formatTs(firstMs(s))
    r.lastSeen = formatTs(lastMs(s))
    if (f?.load.tiedBy) r.tiedBy = f.load.tiedBy
    Object.assign(r, f ? three(f) : measuredOnly(ctx, s))
    out.push(r)
  }
  for (const f of ctx.server?.figures ?? []) {
    // A load of the log outside the trace (a journal of last week) is not this trace's.
    if (f.runner || (!f.predicted && !f.allocated) || !f.load.events.some(e => placed(ctx, e) !== undefined)) continue
    out.push({ record: 'runner-memory', model: loadModel(f.load), ...three(f) })
  }
  return out
}

function measuredOnly(ctx: Ctx, s: ProcSeries): Partial<RunnerMemory> {
  const m = measured(ctx.trace, s)
  return { rssBytes: m.rssBytes, ...(m.gpuBytes !== undefined ? { gpuBytes: m.gpuBytes } : {}) }
}

function three(f: RunnerFigures): Partial<RunnerMemory> {
  const r: Partial<RunnerMemory> = {}
  if (f.predicted) {
    r.predictedBytes = f.predicted.bytes
    if (f.predicted.event.ts) r.predictedAt = new Date(Date.parse(f.predicted.event.ts)).toISOString().replace('.000Z', 'Z')
  }
  if (f.allocated) {
    r.allocatedBytes = f.allocated.totalBytes
    if (f.allocated.from !== 'total' || f.allocated.systemBytes + f.allocated.deviceBytes > 0) {
      r.allocatedSystemBytes = f.allocated.systemBytes
      r.allocatedGpuBytes = f.allocated.deviceBytes
    }
  }
  if (f.rssBytes !== undefined) r.rssBytes = f.rssBytes
  if (f.gpuBytes !== undefined) r.gpuBytes = f.gpuBytes
  const actual = actualOf(f)
  if (f.predicted && actual && actual.bytes > 0) {
    r.errorPct = errorPct(f.predicted.bytes, actual.bytes)
    r.errorAgainst = actual.against
  }
  return r
}
