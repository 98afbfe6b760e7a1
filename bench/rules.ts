/**
 * The rules that name what a sweep did, written down once and tested on the
 * seeds' own tables. Pure: steps in, names out.
 */

/** A step is flat while its generation speed stays at this share of the first step's or more. */
export const FLAT_SHARE = 0.9
/** After a drop, speed has stabilised when every later step stays within this share of a step's. */
export const STABLE_SHARE = 0.05
/** Seed 001's cliff: per-request generation under this share of P=1's. */
export const CLIFF_SHARE = 0.5
/** The knee: the first step whose total throughput gains less than this over the step before. */
export const KNEE_GAIN = 0.05

export type Phase = 'flat' | 'degradation' | 'cliff' | 'stabilized'

/**
 * Seed 000's phases of a NUM_PARALLEL sweep (one request at a time, more
 * memory each step), from the generation speed of each step in order:
 * - flat: from the first step while speed stays at 90 % of the first step's;
 * - cliff: the first step from the first drop on after which every later step
 *   stays within 5 % of it (at least one later step: a sweep still falling at
 *   its end has no cliff);
 * - degradation: the steps from the first drop to the cliff (or to the end);
 * - stabilized: the steps after the cliff.
 */
export function phases(genTps: number[]): Phase[] {
  const n = genTps.length
  if (n === 0) return []
  const base = genTps[0] as number
  let drop = genTps.findIndex(v => v < FLAT_SHARE * base)
  if (drop < 0) return genTps.map(() => 'flat')
  let cliff = -1
  for (let c = drop; c < n - 1 && cliff < 0; c++) {
    const level = genTps[c] as number
    if (genTps.slice(c + 1).every(v => Math.abs(v - level) <= STABLE_SHARE * level)) cliff = c
  }
  return genTps.map((_, i) => (i < drop ? 'flat' : cliff < 0 || i < cliff ? 'degradation' : i === cliff ? 'cliff' : 'stabilized'))
}

/** What a parallel sweep (P concurrent requests per step) did. */
export interface ParallelVerdict {
  /** The first step whose per-request speed is under half of the first step's. */
  cliff?: number
  /** The step of the highest total throughput. */
  peak: number
  /** The first step whose throughput gains under 5 % over the step before. */
  knee?: number
}

export function parallelVerdict(steps: { step: number; genTps: number; totalTps: number }[]): ParallelVerdict | undefined {
  const first = steps[0]
  if (!first) return undefined
  const cliff = steps.find(s => s.genTps < CLIFF_SHARE * first.genTps)?.step
  const peak = steps.reduce((a, s) => (s.totalTps > a.totalTps ? s : a), first).step
  const knee = steps.find((s, i) => i > 0 && s.totalTps < (1 + KNEE_GAIN) * (steps[i - 1] as typeof s).totalTps)?.step
  return { ...(cliff !== undefined ? { cliff } : {}), peak, ...(knee !== undefined ? { knee } : {}) }
}

/**
 * Why a step was slower: memory when the system paged out or swap grew during
 * it, compute otherwise.
 */
export function cause(step: { pageOuts: number; swapGrowthBytes: number }): 'memory' | 'compute' {
  return step.pageOuts > 0 || step.swapGrowthBytes > 0 ? 'memory' : 'compute'
}
