/**
 * Every sample of every process's line as a point on a grid of 1 px cells,
 * summed (a summed-area table) so that "is any sample inside this
 * rectangle?" takes four lookups. A sample inside a label's rectangle is a
 * point of a line inside it: that line crosses the rectangle, and the spot
 * is ruled out without testing any line. A rectangle with no sample in it
 * is tested line by line as before, so the answer is always the one the
 * line test gives. On a crowded panel (thousands of short runners) nearly
 * every spot tried has a sample in it. Pure.
 */
import type { ProcSeries } from '../../core/model/trace.js'
import type { Rect } from './rects.js'

/** Cells kept at most (4 bytes each): a panel larger than this is not gridded, and every spot is tested line by line. */
const MAX_CELLS = 1 << 22
/** Kept clear of each edge of a query, far above the rounding of a point computed again. */
const EDGE = 1e-6

export class PointGrid {
  readonly #sum: Int32Array | undefined
  readonly #x0: number
  readonly #y0: number
  readonly #w: number
  readonly #h: number

  constructor(procs: ProcSeries[], x: (t: number) => number, yOfKb: (kb: number) => number, box: Rect) {
    this.#x0 = Math.floor(box.x)
    this.#y0 = Math.floor(box.y)
    this.#w = Math.max(0, Math.ceil(box.x + box.w) - this.#x0)
    this.#h = Math.max(0, Math.ceil(box.y + box.h) - this.#y0)
    const w = this.#w
    const h = this.#h
    if (w === 0 || h === 0 || (w + 1) * (h + 1) > MAX_CELLS) return
    // Counts first, one cell to the right and below (row 0 and column 0 stay 0), then summed in place.
    const sum = new Int32Array((w + 1) * (h + 1))
    for (const s of procs) {
      const ts = s.tsMs
      const kbs = s.rssKb
      for (let i = 0; i < ts.length; i++) {
        const kb = kbs[i] as number
        if (Number.isNaN(kb)) continue
        const cx = Math.floor(x(ts[i] as number)) - this.#x0
        const cy = Math.floor(yOfKb(kb)) - this.#y0
        // Outside the panel (or not a number): not counted. The grid only ever rules spots out.
        if (!(cx >= 0 && cx < w && cy >= 0 && cy < h)) continue
        ;(sum[(cy + 1) * (w + 1) + cx + 1] as number)++
      }
    }
    for (let r = 1; r <= h; r++) {
      let row = 0
      for (let c = 1; c <= w; c++) {
        const at = r * (w + 1) + c
        row += sum[at] as number
        sum[at] = (sum[at - (w + 1)] as number) + row
      }
    }
    this.#sum = sum
  }

  /**
   * True when a sample lies inside `r` grown by `pad` px on each side: only
   * whole cells inside it are counted, so a true answer is certain; false
   * says nothing.
   */
  anyIn(r: Rect, pad: number): boolean {
    const sum = this.#sum
    if (!sum) return false
    const w = this.#w
    const c0 = Math.max(0, Math.ceil(r.x - pad + EDGE) - this.#x0)
    const c1 = Math.min(w, Math.floor(r.x + r.w + pad - EDGE) - this.#x0)
    const r0 = Math.max(0, Math.ceil(r.y - pad + EDGE) - this.#y0)
    const r1 = Math.min(this.#h, Math.floor(r.y + r.h + pad - EDGE) - this.#y0)
    if (!(c1 > c0 && r1 > r0)) return false
    const W = w + 1
    return (sum[r1 * W + c1] as number) - (sum[r0 * W + c1] as number) - (sum[r1 * W + c0] as number) + (sum[r0 * W + c0] as number) > 0
  }
}
