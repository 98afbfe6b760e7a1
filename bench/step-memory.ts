/** What the trace says of memory during one step of an experiment. Pure. */
import type { SystemSample } from '../schemas/index.js'
import type { Trace } from '../core/model/trace.js'

export interface StepMemory {
  rssIdleBytes?: number
  rssPeakBytes?: number
  swapGrowthBytes?: number
  pageOuts?: number
  compressionGrowthBytes?: number
  freePctMin?: number
}

export interface TimedSample {
  tsMs: number
  sample: SystemSample
}

/** The page-out counter a platform keeps: macOS Pageouts, Linux pswpout. */
const pageOutsOf = (s: SystemSample) => s.pageouts ?? s.swapOutPages

/**
 * Between `startMs` and `endMs`: the runners' RSS (together) at the first
 * process sample and at its highest, the swap used and page-outs from the
 * last system sample at or before the start to the last before the end (and
 * macOS's compressor), and
 * the lowest free (Linux: available) %.
 */
export function stepMemory(trace: Trace, samples: TimedSample[], startMs: number, endMs: number, pids?: number[], rssFromMs = startMs): StepMemory {
  const out: StepMemory = {}
  // The step's own runners when they are known (a server memtrace manages), else every runner the trace holds.
  const runners = trace.procs.filter(p => p.role === 'runner' && (!pids || pids.includes(p.pid)))
  // Their RSS from `rssFromMs` (the warm-up's end, when the step had one: the runner is loaded and idle from there).
  const times = [...new Set(runners.flatMap(r => [...r.tsMs.filter(t => t >= rssFromMs && t <= endMs)]))].sort((a, b) => a - b)
  const rssAt = (t: number) => runners.reduce((sum, r) => {
    const i = r.tsMs.indexOf(t)
    return i >= 0 ? sum + (r.rssKb[i] as number) * 1024 : sum
  }, 0)
  if (times.length > 0) {
    out.rssIdleBytes = rssAt(times[0] as number)
    out.rssPeakBytes = Math.max(...times.map(rssAt))
  }
  const before = [...samples].reverse().find(s => s.tsMs <= startMs)
  const inside = samples.filter(s => s.tsMs > startMs && s.tsMs <= endMs)
  const last = inside[inside.length - 1]
  if (before && last) {
    const a = before.sample.swapUsedBytes
    const b = last.sample.swapUsedBytes
    if (a !== undefined && b !== undefined) out.swapGrowthBytes = b - a
    const pa = pageOutsOf(before.sample)
    const pb = pageOutsOf(last.sample)
    if (pa !== undefined && pb !== undefined) out.pageOuts = Math.max(0, pb - pa)
    const ca = before.sample.compressorBytes
    const cb = last.sample.compressorBytes
    if (ca !== undefined && cb !== undefined) out.compressionGrowthBytes = cb - ca
  }
  const pcts = [before, ...inside].map(s => s?.sample.freePct).filter((v): v is number => v !== undefined)
  if (pcts.length > 0) out.freePctMin = Math.min(...pcts)
  return out
}
