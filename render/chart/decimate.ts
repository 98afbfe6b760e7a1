import { ByteSink } from './byte-sink.js'

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
  const p = walk(ts, vals, x, y, gapMs, widthPx)
  const out: Pt[] = []
  let b = 0
  for (let k = 0; k < p.n; k++) {
    if (p.breaks[b] === k) {
      out.push(null)
      b++
    }
    out.push([p.xy[2 * k] as number, p.xy[2 * k + 1] as number])
  }
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
  const out = new ByteSink()
  writePixelPath(out, ts, vals, x, y, gapMs, widthPx)
  return out.text()
}

/**
 * The path pixelPath makes, written as bytes into `out`: its numbers go in
 * as digits, so a chart of thousands of lines makes no string per number
 * (they were most of what the chart allocated).
 */
export function writePixelPath(
  out: ByteSink,
  ts: ArrayLike<number>,
  vals: ArrayLike<number>,
  x: (t: number) => number,
  y: (v: number) => number,
  gapMs: number,
  widthPx: number,
): void {
  const p = walk(ts, vals, x, y, gapMs, widthPx)
  const xy = p.xy
  let run = 0
  let b = 0
  for (let k = 0; k < p.n; k++) {
    if (p.breaks[b] === k) {
      if (run === 1) out.char(Z)
      run = 0
      b++
    }
    out.char(run === 0 ? M : L)
    out.tenths(xy[2 * k] as number)
    out.char(COMMA)
    out.tenths(xy[2 * k + 1] as number)
    run++
  }
  if (run === 1) out.char(Z)
}

const [M, L, Z, COMMA] = [77, 76, 90, 44]

/** A line's points as the decimation leaves them: x and y of point k at 2k and 2k + 1, and the points a break comes before. */
interface Points {
  xy: Float64Array
  n: number
  breaks: number[]
}

/** The points of one line while it is written; a longer line grows its own copy, which is let go after. */
const SCRATCH = new Float64Array(2 * 4096 + 8)

/**
 * The decimation itself. Points that round to the same place as the one
 * before are left out; a break is kept only before a point that follows it.
 * The points go into a typed array (no pair made, no number boxed per point).
 */
function walk(
  ts: ArrayLike<number>,
  vals: ArrayLike<number>,
  x: (t: number) => number,
  y: (v: number) => number,
  gapMs: number,
  widthPx: number,
): Points {
  const n = ts.length
  const decimate = n > 4 * widthPx
  // Into the one scratch array (read by the caller before the next walk): a chart of 10,000 short lines made 10,000 arrays.
  const p: Points = { xy: SCRATCH, n: 0, breaks: [] }
  let bucket = NaN
  let first = -1
  let lo = -1
  let hi = -1
  let last = -1
  // Whether the last point told still ends the line (no break since), and a break waiting for a point to follow it.
  let hasLast = false
  let lastX = 0
  let lastY = 0
  let broken = false
  // Points that round to the same place add bytes and nothing else.
  const push = (px: number, py: number) => {
    if (hasLast && Math.abs(lastX - px) < 0.05 && Math.abs(lastY - py) < 0.05) return
    if (broken) p.breaks.push(p.n)
    broken = false
    if (2 * p.n + 2 > p.xy.length) {
      const grown = new Float64Array(p.xy.length * 2)
      grown.set(p.xy)
      p.xy = grown
    }
    p.xy[2 * p.n] = px
    p.xy[2 * p.n + 1] = py
    p.n++
    hasLast = true
    lastX = px
    lastY = py
  }
  const flush = () => {
    if (first < 0) return
    // The four in time order, each once.
    let a = first
    let b = lo
    let c = hi
    let d = last
    let t: number
    if (a > b) (t = a), (a = b), (b = t)
    if (c > d) (t = c), (c = d), (d = t)
    if (a > c) (t = a), (a = c), (c = t)
    if (b > d) (t = b), (b = d), (d = t)
    if (b > c) (t = b), (b = c), (c = t)
    push(x(ts[a] as number), y(vals[a] as number))
    if (b !== a) push(x(ts[b] as number), y(vals[b] as number))
    if (c !== b) push(x(ts[c] as number), y(vals[c] as number))
    if (d !== c) push(x(ts[d] as number), y(vals[d] as number))
    first = lo = hi = last = -1
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
  return p
}
