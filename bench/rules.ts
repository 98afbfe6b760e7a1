/**
 * The rules that name what a sweep did, written down once and tested on the
 * seeds' own tables. Pure: steps in, names out.
 *
 * Every name stands on a difference, and a difference counts only beyond the
 * run-to-run spread measured at the two steps: their means must lie further
 * apart than their two standard deviations together (|m₁ − m₂| > s₁ + s₂),
 * a test a reader can do by hand on the table. A step with no standard
 * deviation (a table as printed, one request a step) is taken at its mean.
 * When the host was busy during any step, nothing is named at all.
 */

/** A step is flat while its generation speed stays at this share of the first step's or more. */
export const FLAT_SHARE = 0.9
/** After a drop, speed has stabilised when every later step stays within this share of a step's (or within the spread). */
export const STABLE_SHARE = 0.05
/** Seed 001's cliff: per-request generation under this share of P=1's. */
export const CLIFF_SHARE = 0.5
/** The knee: the first step whose total throughput gains less than this over the step before. */
export const KNEE_GAIN = 0.05
/** A step during which other processes used more than this % of the machine's CPU was measured on a busy host. */
export const BUSY_PCT = 25
/** Memory has come back after an unload when in use is within this much of before; more is "not given back". */
export const NOT_GIVEN_BACK_BYTES = 256 * 1024 ** 2

export type Phase = 'flat' | 'degradation' | 'cliff' | 'stabilized'

/** A figure of a step: the mean over its requests and their standard deviation (the run-to-run spread). */
export interface Reading {
  mean: number
  sd?: number
}

const spread = (a: Reading, b: Reading) => (a.sd ?? 0) + (b.sd ?? 0)
/** `a` is lower than `b` beyond the spread. */
export const below = (a: Reading, b: Reading): boolean => b.mean - a.mean > spread(a, b)
/** `a` and `b` are the same within `share` of `b`, or within the spread. */
const same = (a: Reading, b: Reading, share: number): boolean => Math.abs(a.mean - b.mean) <= Math.max(share * b.mean, spread(a, b))

/**
 * Seed 000's phases of a NUM_PARALLEL sweep (one request at a time, more
 * memory each step), from the generation speed of each step in order:
 * - slow: a step under 90 % of the first step's speed, and below it beyond the spread;
 * - degradation starts at the first step from which every step is slow (a slow
 *   step that later steps climb back from is noise, not a phase: memory only grows);
 * - cliff: the first slow step after which every later step stays within 5 %
 *   of it or within the spread (at least one later step: a sweep still falling
 *   at its end has no cliff);
 * - flat before the drop, degradation from the drop to the cliff, stabilized after it.
 */
export function phases(gen: Reading[]): Phase[] {
  const n = gen.length
  if (n === 0) return []
  const base = gen[0] as Reading
  const slow = (r: Reading) => r.mean < FLAT_SHARE * base.mean && below(r, base)
  let drop = -1
  for (let i = n - 1; i >= 1 && slow(gen[i] as Reading); i--) drop = i
  if (drop < 0) return gen.map(() => 'flat')
  let cliff = -1
  for (let c = drop; c < n - 1 && cliff < 0; c++) {
    const level = gen[c] as Reading
    if (gen.slice(c + 1).every(r => same(r, level, STABLE_SHARE))) cliff = c
  }
  return gen.map((_, i) => (i < drop ? 'flat' : cliff < 0 || i < cliff ? 'degradation' : i === cliff ? 'cliff' : 'stabilized'))
}

/** What memory did during a step. */
export interface MemorySigns {
  step: number
  pageOuts?: number
  swapGrowthBytes?: number
  compressionGrowthBytes?: number
}

/** The first step with each sign of memory pressure. */
export interface FirstSigns {
  pageOuts?: number
  swapGrowth?: number
  compressionGrowth?: number
}

export function firstSigns(steps: MemorySigns[]): FirstSigns {
  const first = (f: (s: MemorySigns) => boolean) => steps.find(f)?.step
  const out: FirstSigns = {}
  const p = first(s => (s.pageOuts ?? 0) > 0)
  const w = first(s => (s.swapGrowthBytes ?? 0) > 0)
  const c = first(s => (s.compressionGrowthBytes ?? 0) > 0)
  if (p !== undefined) out.pageOuts = p
  if (w !== undefined) out.swapGrowth = w
  if (c !== undefined) out.compressionGrowth = c
  return out
}

/** `first page-outs at NP 10, first swap growth at NP 11`: what the signs say, in words. */
export function signsText(f: FirstSigns, unit: string): string {
  return [
    f.compressionGrowth !== undefined ? `first compression growth at ${unit} ${f.compressionGrowth}` : '',
    f.pageOuts !== undefined ? `first page-outs at ${unit} ${f.pageOuts}` : '',
    f.swapGrowth !== undefined ? `first swap growth at ${unit} ${f.swapGrowth}` : '',
  ]
    .filter(Boolean)
    .join(', ')
}

/**
 * Why a step of a NUM_PARALLEL sweep was slower: one request at a time holds
 * compute constant, so a slow step's cause is memory (the only thing that
 * changed), and a step that is not slow has none.
 */
export function npCause(phase: Phase): 'memory' | undefined {
  return phase === 'flat' ? undefined : 'memory'
}

/** What a parallel sweep (P concurrent requests per step) did. */
export interface ParallelVerdict {
  /** The first step whose per-request speed is under half of the first step's beyond the spread. */
  cliff?: number
  /** No cliff can be placed: from this step on, a step may be under half, but the spread cannot tell which is first (`to`: the first surely under, if any). */
  cliffBetween?: { from: number; to?: number }
  /** The baseline the cliff is half of, and where it came from. */
  baseline?: { tps: number; from: 'gen' | 'total' }
  /** The step of the highest total throughput, when it rose beyond the spread (or P=1 is the highest). */
  peak?: number
  /** The first step whose throughput gains under 5 % (or not beyond the spread) over the step before. */
  knee?: number
}

export interface ParallelStep {
  step: number
  gen: Reading
  total?: Reading
}

/**
 * Seed 001's rules with the spread. P=1's per-request speed is the baseline,
 * raised to P=1's throughput in all when that reads higher: one request's
 * tokens over its whole time (the time to its first token included) cannot
 * come faster than its generation rate, so such a reading of the rate is low
 * by noise, and the throughput is a floor under it.
 */
export function parallelVerdict(steps: ParallelStep[]): ParallelVerdict | undefined {
  const first = steps[0]
  if (!first) return undefined
  const out: ParallelVerdict = {}
  const fromTotal = first.total !== undefined && first.total.mean > first.gen.mean
  const base: Reading = fromTotal ? { mean: (first.total as Reading).mean, sd: first.total?.sd ?? 0 } : first.gen
  out.baseline = { tps: base.mean, from: fromTotal ? 'total' : 'gen' }
  const half: Reading = { mean: CLIFF_SHARE * base.mean, sd: CLIFF_SHARE * (base.sd ?? 0) }
  const later = steps.slice(1)
  const under = later.find(s => below(s.gen, half))
  // A step before it that is neither surely above half nor surely under: the spread hides where the cliff is.
  const unsure = later.find(s => (under === undefined || s.step < under.step) && !below(half, s.gen))
  if (under && !unsure) out.cliff = under.step
  else if (unsure) out.cliffBetween = { from: unsure.step, ...(under ? { to: under.step } : {}) }
  const withTotal = steps.filter((s): s is ParallelStep & { total: Reading } => s.total !== undefined)
  const t1 = withTotal[0]
  if (t1) {
    const top = withTotal.reduce((a, s) => (s.total.mean > a.total.mean ? s : a), t1)
    if (top === t1 || below(t1.total, top.total)) out.peak = top.step
    const knee = withTotal.find((s, i) => {
      const prev = withTotal[i - 1]
      return prev !== undefined && (s.total.mean < (1 + KNEE_GAIN) * prev.total.mean || !below(prev.total, s.total))
    })
    if (knee) out.knee = knee.step
  }
  return out
}

/**
 * Why a step of a concurrency sweep was slower: memory when the system paged
 * out, swap grew or the compressor grew during it, compute otherwise.
 */
export function cause(step: { pageOuts: number; swapGrowthBytes: number; compressionGrowthBytes?: number }): 'memory' | 'compute' {
  return step.pageOuts > 0 || step.swapGrowthBytes > 0 || (step.compressionGrowthBytes ?? 0) > 0 ? 'memory' : 'compute'
}

/** How busy the host was around a step: CPU other processes used (% of the machine), before and during. */
export interface Busy {
  step: number
  otherCpuPct?: number
  otherCpuPctBefore?: number
}

/** The steps measured on a busy host, with the most CPU others used in each: when any, the rules name nothing. */
export function busySteps(steps: Busy[], limit = BUSY_PCT): { step: number; pct: number }[] {
  return steps.flatMap(s => {
    const pct = Math.max(s.otherCpuPct ?? 0, s.otherCpuPctBefore ?? 0)
    return pct > limit ? [{ step: s.step, pct }] : []
  })
}
