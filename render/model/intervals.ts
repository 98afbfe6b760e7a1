/** Time intervals derived from a trace: sampling period, gaps, low free memory, runner overlap. */
import type { ProcSeries, Trace } from './trace.js'

export interface Interval {
  startMs: number
  endMs: number
}

/** A gap is this many sampling periods without a sample. */
export const GAP_FACTOR = 2.5

/** The usual spacing of samples: the median of the positive steps. */
export function samplingPeriod(tsMs: readonly number[], fallbackMs: number): number {
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
 * Runs of consecutive system samples with free % under the threshold. A run
 * ends at the first sample that is not low, or one period after its last low
 * sample when the next sample is missing.
 */
export function lowFreeIntervals(trace: Trace, thresholdPct: number): Interval[] {
  const ts = trace.sys.tsMs
  const pct = trace.sys.fields.get('free-pct')
  if (!pct) return []
  const period = sysPeriod(trace)
  const out: Interval[] = []
  let start: number | undefined
  let last = 0
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i] as number
    const v = pct[i] as number
    const low = v < thresholdPct
    if (start !== undefined && (!low || t - last > GAP_FACTOR * period)) {
      out.push({ startMs: start, endMs: low ? last + period : Math.min(t, last + period) })
      start = undefined
    }
    if (low) {
      start ??= t
      last = t
    }
  }
  if (start !== undefined) out.push({ startMs: start, endMs: last + period })
  return out
}

/**
 * Where two or more model runners appear in the same process samples. The
 * interval runs from the first such sample to the last.
 */
export function runnerOverlaps(trace: Trace): Interval[] {
  const counts = new Map<number, number>()
  for (const s of trace.procs) {
    if (s.role !== 'runner') continue
    for (const t of s.tsMs) counts.set(t, (counts.get(t) ?? 0) + 1)
  }
  const times = [...counts.keys()].sort((a, b) => a - b)
  const period = procPeriod(trace)
  const out: Interval[] = []
  let cur: Interval | undefined
  for (const t of times) {
    const both = (counts.get(t) as number) >= 2
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
