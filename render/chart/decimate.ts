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
  const out: Pt[] = []
  walk(ts, vals, x, y, gapMs, widthPx, (px, py) => out.push([px, py]), () => out.push(null))
  return out
}

/**
 * The same points written straight into an SVG path (as pathOf writes them:
 * `M` at a run's first point, `L` after, `Z` after a lone point, one
 * decimal), with no point arrays made on the way.
 */
export function pixelPath(
  ts: ArrayLike<number>,
  vals: ArrayLike<number>,
  x: (t: number) => number,
  y: (v: number) => number,
  gapMs: number,
  widthPx: number,
): string {
  const out: (string | number)[] = []
  let run = 0
  walk(
    ts,
    vals,
    x,
    y,
    gapMs,
    widthPx,
    (px, py) => {
      out.push(run === 0 ? 'M' : 'L', Math.round(px * 10) / 10, ',', Math.round(py * 10) / 10)
      run++
    },
    () => {
      if (run === 1) out.push('Z')
      run = 0
    },
  )
  if (run === 1) out.push('Z')
  return out.join('')
}

/**
 * The decimation itself, telling each point and each break as it comes.
 * Points that round to the same place as the one before are left out; a
 * break comes only after a point, and none is told after the last point.
 */
function walk(
  ts: ArrayLike<number>,
  vals: ArrayLike<number>,
  x: (t: number) => number,
  y: (v: number) => number,
  gapMs: number,
  widthPx: number,
  point: (px: number, py: number) => void,
  gap: () => void,
): void {
  const n = ts.length
  const decimate = n > 4 * widthPx
  let bucket = NaN
  let first = -1
  let lo = -1
  let hi = -1
  let last = -1
  // The last point told, when nothing has broken the line since; a break waits until a point follows it.
  let hasLast = false
  let lastX = 0
  let lastY = 0
  let broken = false
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
    if (hasLast && Math.abs(lastX - px) < 0.05 && Math.abs(lastY - py) < 0.05) return
    if (broken) gap()
    broken = false
    point(px, py)
    hasLast = true
    lastX = px
    lastY = py
  }
  const brk = () => {
    flush()
    if (hasLast) broken = true
    hasLast = false
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
}
