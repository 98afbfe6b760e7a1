/**
 * Look-ups the detectors make once per runner, answered from sorted arrays
 * instead of a pass over every runner or every snapshot: with thousands of
 * runners, a pass each is millions of steps. Same answers as the passes. Pure.
 */
import type { ProcSeries, Snapshot } from '../../core/model/trace.js'

/** Index of the first value at or after `ms` in an ascending array. */
export function lowerBound(ts: ArrayLike<number>, ms: number): number {
  let lo = 0
  let hi = ts.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((ts[mid] as number) < ms) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index of the first value after `ms` in an ascending array. */
export function upperBound(ts: ArrayLike<number>, ms: number): number {
  let lo = 0
  let hi = ts.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((ts[mid] as number) <= ms) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The snapshots (in time order) with from ≤ tsMs ≤ to, as `filter` would give them. */
export function snapsBetween(snaps: Snapshot[], times: readonly number[], from: number, to: number): Snapshot[] {
  return snaps.slice(lowerBound(times, from), Math.max(lowerBound(times, from), upperBound(times, to)))
}

/**
 * Which runners are alive when: sorted by first sample, with the latest last
 * sample among the first k (and the runner it belongs to, and the latest of
 * any other), so "is one alive at t" is a binary search.
 */
export class Lifetimes {
  readonly #firsts: number[]
  readonly #best: number[]
  readonly #bestOf: ProcSeries[]
  readonly #second: number[]

  constructor(runners: ProcSeries[]) {
    const sorted = [...runners].sort((a, b) => (a.tsMs[0] as number) - (b.tsMs[0] as number))
    this.#firsts = sorted.map(s => s.tsMs[0] as number)
    this.#best = []
    this.#bestOf = []
    this.#second = []
    let best = -Infinity
    let second = -Infinity
    let bestOf: ProcSeries | undefined
    for (const s of sorted) {
      const last = s.tsMs[s.tsMs.length - 1] as number
      if (last > best) {
        second = best
        best = last
        bestOf = s
      } else if (last > second) second = last
      this.#best.push(best)
      this.#bestOf.push(bestOf as ProcSeries)
      this.#second.push(second)
    }
  }

  /** The earliest first sample of any runner after `ms`, if one starts after it. */
  firstAfter(ms: number): number | undefined {
    return this.#firsts[upperBound(this.#firsts, ms)]
  }

  /** Whether a runner (other than `except`) has first ≤ `startBy` and last ≥ `endFrom`. */
  any(startBy: number, endFrom: number, except?: ProcSeries): boolean {
    const k = upperBound(this.#firsts, startBy) - 1
    if (k < 0) return false
    if (this.#bestOf[k] !== except) return (this.#best[k] as number) >= endFrom
    return (this.#second[k] as number) >= endFrom
  }
}

/**
 * The runners alive at some time in [from, to], in their given order: those
 * starting at most the longest life before `from`, found by a binary search
 * over their first samples, instead of a pass over every runner per question.
 */
export class Spans {
  readonly #series: ProcSeries[]
  /** Indexes into #series, by first sample. */
  readonly #order: number[]
  readonly #firsts: number[]
  readonly #longest: number

  constructor(series: ProcSeries[]) {
    this.#series = series
    this.#order = series.map((_, k) => k).filter(k => (series[k] as ProcSeries).tsMs.length > 0)
    const first = (k: number) => (series[k] as ProcSeries).tsMs[0] as number
    const last = (k: number) => {
      const ts = (series[k] as ProcSeries).tsMs
      return ts[ts.length - 1] as number
    }
    this.#order.sort((a, b) => first(a) - first(b))
    this.#firsts = this.#order.map(first)
    this.#longest = this.#order.reduce((m, k) => Math.max(m, last(k) - first(k)), 0)
  }

  /** Every series with first ≤ `to` and last ≥ `from`, as a filter of the list would give them. */
  between(from: number, to: number): ProcSeries[] {
    const hits: number[] = []
    for (let j = lowerBound(this.#firsts, from - this.#longest), end = upperBound(this.#firsts, to); j < end; j++) {
      const k = this.#order[j] as number
      const ts = (this.#series[k] as ProcSeries).tsMs
      if ((ts[ts.length - 1] as number) >= from) hits.push(k)
    }
    return hits.sort((a, b) => a - b).map(k => this.#series[k] as ProcSeries)
  }
}
