/** A point in pixels, or null where the line must break. */
export type Pt = readonly [number, number] | null

/**
 * Samples → pixel points for one line. Breaks the line where samples are
 * missing (a step longer than `gapMs`, or a NaN value). When there are more
 * samples than `4 × width`, keeps per pixel column the first, lowest,
 * highest and last sample in time order, so a one-second spike survives in
 * a one-day chart and the path stays small.
 */
export function toPixels(
  ts: ArrayLike<number>,
  vals: ArrayLike<number>,
  x: (t: number) => number,
  y: (v: number) => number,
  gapMs: number,
  widthPx: number,
): Pt[] {
  const n = ts.length
  const decimate = n > 4 * widthPx
  const out: Pt[] = []
  let bucket = NaN
  let first = -1
  let lo = -1
  let hi = -1
  let last = -1
  const flush = () => {
    if (first < 0) return
    const idx = [first, lo, hi, last].sort((a, b) => a - b)
    let prev = -1
    for (const i of idx) {
      if (i !== prev) push(x(ts[i] as number), y(vals[i] as number))
      prev = i
    }
    first = lo = hi = last = -1
  }
  // Points that round to the same place add bytes and nothing else.
  const push = (px: number, py: number) => {
    const last = out[out.length - 1]
    if (last && Math.abs(last[0] - px) < 0.05 && Math.abs(last[1] - py) < 0.05) return
    out.push([px, py])
  }
  const brk = () => {
    flush()
    if (out.length > 0 && out[out.length - 1] !== null) out.push(null)
  }
  for (let i = 0; i < n; i++) {
    const v = vals[i] as number
    if (Number.isNaN(v)) {
      brk()
      continue
    }
    if (i > 0 && (ts[i] as number) - (ts[i - 1] as number) > gapMs) brk()
    if (!decimate) {
      push(x(ts[i] as number), y(v))
      continue
    }
    const b = Math.floor(x(ts[i] as number))
    if (b !== bucket) {
      flush()
      bucket = b
    }
    if (first < 0) {
      first = lo = hi = last = i
      continue
    }
    if (v < (vals[lo] as number)) lo = i
    if (v > (vals[hi] as number)) hi = i
    last = i
  }
  flush()
  while (out.length > 0 && out[out.length - 1] === null) out.pop()
  return out
}
