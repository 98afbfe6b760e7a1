/** The statistics of a step: mean, standard deviation, percentiles. Pure. */

export function mean(v: number[]): number {
  return v.reduce((a, x) => a + x, 0) / v.length
}

/** The sample standard deviation (n − 1); 0 for fewer than two values. */
export function sd(v: number[]): number {
  if (v.length < 2) return 0
  const m = mean(v)
  return Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / (v.length - 1))
}

/** The p-th percentile (0–100) by linear interpolation between the closest ranks, as numpy's default; undefined for no values. */
export function percentile(v: number[], p: number): number | undefined {
  if (v.length === 0) return undefined
  const s = [...v].sort((a, b) => a - b)
  const at = (p / 100) * (s.length - 1)
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (at - lo)
}

/** What a step's requests took, as the serving benchmarks report it: p50, p95 and p99 of each latency, in ms. */
export interface Latency {
  ttftP50Ms?: number
  ttftP95Ms?: number
  ttftP99Ms?: number
  tpotP50Ms?: number
  tpotP95Ms?: number
  tpotP99Ms?: number
  itlP50Ms?: number
  itlP95Ms?: number
  itlP99Ms?: number
  e2eP50Ms?: number
  e2eP95Ms?: number
  e2eP99Ms?: number
}

/**
 * Per request: TTFT (to the first token), TPOT (the time after the first
 * token over the tokens after it: (E2E − TTFT) / (tokens − 1)), E2E (to the
 * last chunk); ITL is every gap between streamed token chunks of every
 * request, pooled. Each as p50, p95 and p99 over the step.
 */
export function latency(requests: { ttftMs: number; e2eMs: number; evalCount: number; itlMs: number[] }[]): Latency {
  const out: Record<string, number> = {}
  const put = (name: string, v: number[]) => {
    for (const p of [50, 95, 99]) {
      const x = percentile(v, p)
      if (x !== undefined) out[`${name}P${p}Ms`] = x
    }
  }
  put('ttft', requests.map(r => r.ttftMs))
  put('tpot', requests.filter(r => r.evalCount > 1).map(r => (r.e2eMs - r.ttftMs) / (r.evalCount - 1)))
  put('itl', requests.flatMap(r => r.itlMs))
  put('e2e', requests.map(r => r.e2eMs))
  return out as Latency
}
