/**
 * Where each process's RSS line runs on the top panel, coarsely: the cells
 * (BUCKET_PX columns by BAND_PX rows) each of its segments passes through. A
 * label's spot is then checked only against the lines that come near it,
 * instead of against every process: the same answer, far fewer checks. A
 * line tested again and again keeps the pixels of its samples, so it need not
 * call the scales again; the others do not (a host's thousands of short
 * lines, each tested a few times, kept 16 bytes a sample on top of the
 * samples themselves). Pure.
 */
import type { ProcSeries } from '../../core/model/trace.js'
import type { Rect } from './rects.js'

const BUCKET_PX = 8
const BAND_PX = 16
/** A line over more columns than this is kept whole, with one extent, so memory stays linear in processes. */
const WIDE_BUCKETS = 32
/** Cells one line may take, and all lines together; past either, a line is kept whole (bounded memory on any input). */
const CELLS_PER_LINE = 64
const CELLS = 1 << 20
/** Samples whose pixels are kept, all lines together (16 bytes each). */
const PIXELS = 1 << 20
/** A line gets its pixels kept once it has been tested this often (few charts test one that much). */
const TESTS_BEFORE_PIXELS = 32
/** Slack on every edge, far above the rounding of the same x and y values computed again. */
const SLACK = 1
/** Cells are keyed by column and row in one number; rows stay far below this. */
const ROW_SPAN = 1 << 20

interface Wide {
  at: number
  top: number
  bottom: number
}

export class LineIndex {
  readonly #procs: ProcSeries[]
  /** Indexes into #procs, by cell. */
  readonly #cells = new Map<number, number[]>()
  readonly #wide: Wide[] = []
  #filed = 0
  /** By process: x and y of each sample, one after the other (y NaN where RSS is). */
  readonly #pixels: (Float64Array | undefined)[] = []
  #kept = 0
  /** By process: how often a line was asked for its pixels. */
  readonly #asked: Uint32Array
  readonly #x: (t: number) => number
  readonly #yOfKb: (kb: number) => number
  /** By process: the box its samples span (left, right, top, bottom), for a test cheaper than crossing. */
  readonly #boxes: Float64Array
  /** The query each process was last looked at in: each is tested once per query. */
  readonly #seen: Uint32Array
  #query = 0

  constructor(procs: ProcSeries[], x: (t: number) => number, yOfKb: (kb: number) => number) {
    this.#procs = procs
    this.#seen = new Uint32Array(procs.length)
    this.#boxes = new Float64Array(4 * procs.length).fill(NaN)
    this.#asked = new Uint32Array(procs.length)
    this.#x = x
    this.#yOfKb = yOfKb
    procs.forEach((s, at) => {
      const n = s.tsMs.length
      if (n === 0) return // no samples, no line
      const first = col(x(s.tsMs[0] as number) - SLACK)
      const last = col(x(s.tsMs[n - 1] as number) + SLACK)
      const pix = last - first <= WIDE_BUCKETS && this.#filed < CELLS ? pixelsOf(s, x, yOfKb) : undefined
      const cells = pix && cellsOf(pix)
      if (!pix || !cells) {
        this.#wide.push(extent(s, at, yOfKb))
        return
      }
      boxOf(pix, this.#boxes, at)
      this.#filed += cells.size
      for (const key of cells) {
        const list = this.#cells.get(key)
        if (list) list.push(at)
        else this.#cells.set(key, [at])
      }
    })
  }

  /** The pixels of a process's samples, when they were kept: x and y of sample i at 2i and 2i + 1. */
  pixels(s: ProcSeries, at: number): Float64Array | undefined {
    if (this.#procs[at] !== s) return undefined
    const pix = this.#pixels[at]
    if (pix || ++(this.#asked[at] as number) < TESTS_BEFORE_PIXELS || this.#kept >= PIXELS) return pix
    // A long line tested again and again (the server's, against every spot): its pixels once, not its scales each time.
    const made = pixelsOf(s, this.#x, this.#yOfKb)
    this.#pixels[at] = made
    this.#kept += s.tsMs.length
    return made
  }

  /** Whether `test` holds for a line that comes within `pad` pixels of `r`; lines far from it are never tested. */
  some(r: Rect, pad: number, test: (s: ProcSeries, at: number) => boolean): boolean {
    const left = r.x - pad
    const right = r.x + r.w + pad
    const top = r.y - pad
    const bottom = r.y + r.h + pad
    const q = ++this.#query
    const seen = this.#seen
    const boxes = this.#boxes
    for (const w of this.#wide) {
      if (w.top - SLACK > bottom || w.bottom + SLACK < top) continue
      seen[w.at] = q
      if (test(this.#procs[w.at] as ProcSeries, w.at)) return true
    }
    const r1 = row(bottom)
    for (let c = col(left), c1 = col(right); c <= c1; c++) {
      for (let rr = row(top); rr <= r1; rr++) {
        const list = this.#cells.get(c * ROW_SPAN + rr)
        if (!list) continue
        for (const at of list) {
          if (seen[at] === q) continue
          seen[at] = q
          // Outside the box its samples span, a line cannot cross (its segments stay between their ends).
          const b = 4 * at
          if ((boxes[b] as number) - SLACK > right || (boxes[b + 1] as number) + SLACK < left || (boxes[b + 2] as number) - SLACK > bottom || (boxes[b + 3] as number) + SLACK < top) continue
          if (test(this.#procs[at] as ProcSeries, at)) return true
        }
      }
    }
    return false
  }
}

/** x and y of each sample (y NaN where the RSS is NaN). */
function pixelsOf(s: ProcSeries, x: (t: number) => number, yOfKb: (kb: number) => number): Float64Array {
  const n = s.tsMs.length
  const pix = new Float64Array(2 * n)
  for (let i = 0; i < n; i++) {
    const kb = s.rssKb[i] as number
    pix[2 * i] = x(s.tsMs[i] as number)
    pix[2 * i + 1] = Number.isNaN(kb) ? NaN : yOfKb(kb)
  }
  return pix
}

/** The box the samples with an RSS span, into boxes[4 at …]; left as NaN (never skipped) when there is none. */
function boxOf(pix: Float64Array, boxes: Float64Array, at: number): void {
  let left = Infinity
  let right = -Infinity
  let top = Infinity
  let bottom = -Infinity
  for (let i = 0; i < pix.length; i += 2) {
    const px = pix[i] as number
    const py = pix[i + 1] as number
    if (Number.isNaN(py)) continue
    if (px < left) left = px
    if (px > right) right = px
    if (py < top) top = py
    if (py > bottom) bottom = py
  }
  if (left === Infinity) return
  boxes.set([left, right, top, bottom], 4 * at)
}

/** The cells a line passes through, or undefined when there are too many to file. */
function cellsOf(pix: Float64Array): Set<number> | undefined {
  // Each sample, and the segment from the one before (NaN samples skipped: more than is drawn, never less).
  const mine = new Set<number>()
  let px0 = NaN
  let py0 = NaN
  for (let i = 0; i < pix.length; i += 2) {
    const px = pix[i] as number
    const py = pix[i + 1] as number
    if (Number.isNaN(py)) continue
    const joined = !Number.isNaN(px0)
    const c1 = col((joined ? Math.max(px0, px) : px) + SLACK)
    const r1 = row((joined ? Math.max(py0, py) : py) + SLACK)
    for (let c = col((joined ? Math.min(px0, px) : px) - SLACK); c <= c1; c++) {
      for (let r = row((joined ? Math.min(py0, py) : py) - SLACK); r <= r1; r++) {
        mine.add(c * ROW_SPAN + r)
        if (mine.size > CELLS_PER_LINE) return undefined
      }
    }
    px0 = px
    py0 = py
  }
  return mine
}

const col = (px: number) => Math.floor(px / BUCKET_PX)

const row = (py: number) => Math.floor(py / BAND_PX)

function extent(s: ProcSeries, at: number, yOfKb: (kb: number) => number): Wide {
  let top = Infinity
  let bottom = -Infinity
  for (let i = 0; i < s.rssKb.length; i++) {
    const kb = s.rssKb[i] as number
    if (Number.isNaN(kb)) continue
    const py = yOfKb(kb)
    if (py < top) top = py
    if (py > bottom) bottom = py
  }
  return { at, top, bottom }
}
