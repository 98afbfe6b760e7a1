/**
 * Unified memory: hosts whose GPU allocations are system RAM (Apple silicon,
 * DGX Spark, Jetson). There a runner's footprint in RAM is its RSS plus what
 * the GPU holds for it, which RSS does not count. Pure.
 */
import type { ProcSeries, Trace } from '../../core/model/trace.js'
import { GAP_FACTOR, sysPeriod } from '../../core/model/intervals.js'
import { lowerBound } from './lookup.js'

export function isUnified(trace: Trace): boolean {
  return trace.sys.platform === 'macos' || trace.sys.unifiedMemory === true
}

/** A runner's hold on system RAM at one GPU sample: its RSS then plus its GPU memory then. */
export interface Held {
  v: number
  t: number
  rssBytes: number
  gpuBytes: number
}

/**
 * On a unified-memory Linux host, the most a runner held of system RAM: at
 * each sample of its per-process GPU figure, that figure plus its RSS at the
 * process sample nearest before it (within a sampling gap). Undefined where
 * nvidia-smi listed no figure for it.
 */
export function heldWithGpu(trace: Trace, s: ProcSeries): Held | undefined {
  if (trace.sys.platform === 'macos' || !trace.sys.unifiedMemory) return undefined
  const g = trace.gpuByPid.get(s.pid)
  if (!g || s.tsMs.length === 0) return undefined
  const first = s.tsMs[0] as number
  const last = s.tsMs[s.tsMs.length - 1] as number
  const gap = GAP_FACTOR * Math.max(sysPeriod(trace), 1000)
  let best: Held | undefined
  for (let i = 0; i < g.tsMs.length; i++) {
    const t = g.tsMs[i] as number
    if (t < first || t > last) continue
    let j = lowerBound(s.tsMs, t)
    if (j >= s.tsMs.length || (s.tsMs[j] as number) > t) j--
    if (j < 0 || t - (s.tsMs[j] as number) > gap) continue
    const rss = (s.rssKb[j] as number) * 1024
    const gpu = g.bytes[i] as number
    if (!best || rss + gpu > best.v) best = { v: rss + gpu, t, rssBytes: rss, gpuBytes: gpu }
  }
  return best
}
