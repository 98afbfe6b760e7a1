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
