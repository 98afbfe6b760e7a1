/** Time intervals derived from a trace: sampling period, gaps, low free memory, runner overlap. */
import { timesOf } from './samples.js'
import { servers } from './servers.js'
import type { ProcSeries, Trace } from './trace.js'

export interface Interval {
  startMs: number
  endMs: number
  /**
   * Why the interval ends where it does, when not by recovery: `end`, still
   * under way at the last sample of the trace; `gap`, sampling stopped (the
   * interval ends at its last sample).
   */
  cut?: 'end' | 'gap'
  /** An overlap on a host with several servers: the key of the server whose runners overlapped. */
  server?: string
}

/** A gap is this many sampling periods without a sample. */
export const GAP_FACTOR = 2.5

/** The usual spacing of samples: the median of the positive steps. */
export function samplingPeriod(tsMs: ArrayLike<number>, fallbackMs: number): number {
  const steps: number[] = []
  const stride = Math.max(1, Math.floor(tsMs.length / 5000))
  for (let i = stride; i < tsMs.length; i += stride) {
    const d = ((tsMs[i] as number) - (tsMs[i - stride] as number)) / stride
    if (d > 0) steps.push(d)
  }
  if (steps.length === 0) return fallbackMs
  steps.sort((a, b) => a - b)
  return steps[Math.floor(steps.length / 2)] as number
}

/** The process sampling period, from the longest-lived process. */
export function procPeriod(trace: Trace): number {
  let longest: ProcSeries | undefined
  for (const s of trace.procs) if (!longest || s.tsMs.length > longest.tsMs.length) longest = s
  return Math.max(1000, samplingPeriod(longest?.tsMs ?? [], 1000))
}

export function sysPeriod(trace: Trace): number {
  return Math.max(1000, samplingPeriod(trace.sys.tsMs, 5000))
}

/**
 * How far above the threshold a lone sample may read without ending a
 * low-free interval, in percentage points.
 */
export const LOW_FREE_HYSTERESIS_PCT = 2

/**
 * Intervals of free % under the threshold, from the first low sample to the
 * first sample back at or above it. One sample that reads at the threshold or
 * less than LOW_FREE_HYSTERESIS_PCT above it, between two low samples, does not
 * end the interval: 29, 30, 29 is one interval, not two. An interval that is
 * still low at the last sample ends there (`cut: 'end'`); one followed by a gap
 * in sampling ends at its last low sample (`cut: 'gap'`).
 */
export function lowFreeIntervals(trace: Trace, thresholdPct: number): readonly Interval[] {
  // The chart and several findings ask for the same intervals: worked out once per trace and threshold.
  let byThreshold = lowFreeMemo.get(trace)
  if (!byThreshold) lowFreeMemo.set(trace, (byThreshold = new Map()))
  let ivs = byThreshold.get(thresholdPct)
  if (!ivs) byThreshold.set(thresholdPct, (ivs = findLowFree(trace, thresholdPct)))
  return ivs
}

const lowFreeMemo = new WeakMap<Trace, Map<number, Interval[]>>()
const overlapMemo = new WeakMap<Trace, Interval[]>()

function findLowFree(trace: Trace, thresholdPct: number): Interval[] {
  const ts = trace.sys.tsMs
  const pct = trace.sys.fields.get('free-pct')
  if (!pct) return []
  const maxStep = GAP_FACTOR * sysPeriod(trace)
  const out: Interval[] = []
  const isLow = (i: number) => (pct[i] as number) < thresholdPct
  let start: number | undefined
  let last = 0
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i] as number
    const v = pct[i] as number
    if (Number.isNaN(v)) continue
    if (start !== undefined && t - last > maxStep) {
      out.push({ startMs: start, endMs: last, cut: 'gap' })
      start = undefined
    }
    if (isLow(i)) {
      start ??= t
      last = t
      continue
    }
    if (start === undefined) continue
    const next = ts[i + 1]
    const blip = v < thresholdPct + LOW_FREE_HYSTERESIS_PCT && next !== undefined && next - t <= maxStep && isLow(i + 1)
    if (blip) continue
    out.push({ startMs: start, endMs: t })
    start = undefined
  }
  if (start !== undefined) out.push({ startMs: start, endMs: last, cut: 'end' })
  return out
}

/**
 * Where two or more model runners appear in the same process samples. The
 * interval runs from the first such sample to the last. A sample with no
 * resident memory is a runner that is exiting (its memory already given
 * back): it holds nothing beside the next one.
 */
export function runnerOverlaps(trace: Trace): readonly Interval[] {
  let ivs = overlapMemo.get(trace)
  if (!ivs) overlapMemo.set(trace, (ivs = findOverlaps(trace)))
  return ivs
}

/**
 * With several servers on the host, runners overlap only with runners of
 * their own server: two servers' runners on two GPUs are not one model
 * replacing another. Runners whose server is not known are a group of their own.
 */
function findOverlaps(trace: Trace): Interval[] {
  const all = trace.procs.filter(s => s.role === 'runner')
  const { several, of } = servers(trace)
  if (!several) return overlapsOf(trace, all)
  const groups = new Map<string, ProcSeries[]>()
  for (const s of all) {
    const key = of(s)?.key ?? ''
    const g = groups.get(key)
    if (g) g.push(s)
    else groups.set(key, [s])
  }
  const out: Interval[] = []
  for (const [key, runners] of groups) for (const iv of overlapsOf(trace, runners)) out.push(key ? { ...iv, server: key } : iv)
  return out.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs)
}

function overlapsOf(trace: Trace, runners: ProcSeries[]): Interval[] {
  const { times, counts } = timesOf(runners, (k, i) => ((runners[k] as ProcSeries).rssKb[i] as number) > 0)
  const period = procPeriod(trace)
  const out: Interval[] = []
  let cur: Interval | undefined
  for (let j = 0; j < times.length; j++) {
    const t = times[j] as number
    const both = (counts[j] as number) >= 2
    if (cur && (!both || t - cur.endMs > GAP_FACTOR * period)) {
      out.push(cur)
      cur = undefined
    }
    if (both) {
      if (cur) cur.endMs = t
      else cur = { startMs: t, endMs: t }
    }
  }
  if (cur) out.push(cur)
  return out
}
