/**
 * A label at the end of each runner's line: its model and peak RSS, in the
 * model's colour. Labels never touch each other, the markers or the panel
 * edge. Placed highest peak first: each tries right of the line's end, then
 * above it, then below, and last over or under the line's peak. A model is named once, at its highest peak
 * (`qwen2.5-coder:7b · peak 15.7 GiB`, or `qwen2.5-coder:7b · 15.7 GiB` where
 * that has no room); its other runners, which share its colour, say
 * `peak 12.7 GiB`. A label with no room shrinks to `12.7 GiB`, then is left out: with many runners of one model, the lower ones thin out.
 * No label sits on a line, its own or another's: struck through, it is hard
 * to read, and on another runner's line it reads as that runner's.
 */
import type { ProcSeries, Trace } from '../../core/model/trace.js'
import { gib } from '../../core/units.js'
import type { Box } from './axes.js'
import { modelKey, type ProcStyle } from './proc-style.js'
import { GIB, rssScale } from './proc-panel.js'
import { LineIndex } from './line-index.js'
import { PointGrid } from './point-grid.js'
import { fastLinear } from './linear.js'
import { inside, type Occupied, type Rect, textRect } from './rects.js'
import type { Theme } from './style.js'
import { el, esc, haloText } from '../../core/svg.js'
import { BOLD, textWidth } from './text-width.js'

const FONT = 11
/** Baseline to baseline, for a label on two lines. */
const LINE = 13

/**
 * Whether a process's line passes through `r` (segments clipped to its
 * x-range; pads of 2 px). From its pixels when the line index kept them,
 * else through the scales: two copies of one test, so that neither mixes
 * numbers read from an array with numbers a call returns (the compiler boxed
 * every one of them when it did).
 */
function crosses(s: ProcSeries, r: Rect, x: (t: number) => number, y: (gib: number) => number, pix?: Float64Array): boolean {
  return pix ? crossesAt(pix, s.rssKb, r) : crossesBy(s, r, x, y)
}

function crossesBy(s: ProcSeries, r: Rect, x: (t: number) => number, y: (gib: number) => number): boolean {
  const left = r.x - 2
  const right = r.x + r.w + 2
  const top = r.y - 2
  const bottom = r.y + r.h + 2
  const ts = s.tsMs
  const kbs = s.rssKb
  // Start at the last sample left of the rectangle (x grows with time).
  let lo = 0
  let hi = ts.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (x(ts[mid] as number) < left) lo = mid + 1
    else hi = mid
  }
  // The sample before, when there is one (a NaN sample breaks the line): plain numbers, no pair allocated per sample.
  let prev = false
  let qx = 0
  let qy = 0
  for (let i = Math.max(0, lo - 1); i < ts.length; i++) {
    const px = x(ts[i] as number)
    const kb = kbs[i] as number
    if (Number.isNaN(kb)) {
      prev = false
      continue
    }
    const py = y((kb * 1024) / GIB)
    if (prev && px >= left && qx <= right) {
      const a = Math.max(left, qx)
      const b = Math.min(right, px)
      const ya = px === qx ? py : qy + ((py - qy) * (a - qx)) / (px - qx)
      const yb = px === qx ? py : qy + ((py - qy) * (b - qx)) / (px - qx)
      if (Math.max(ya, yb) >= top && Math.min(ya, yb) <= bottom) return true
    } else if (!prev && px >= left && px <= right && py >= top && py <= bottom) return true
    if (px > right) break
    prev = true
    qx = px
    qy = py
  }
  return false
}

/** Pixels beyond which a segment's two ends put it clear of a rectangle, whatever the rounding of points between. */
const SAME_SIDE = 1e-6

/** The same test on the pixels the line index computed (x and y of sample i at 2i and 2i + 1): the same numbers. */
function crossesAt(pix: Float64Array, kbs: Float64Array, r: Rect): boolean {
  const left = r.x - 2
  const right = r.x + r.w + 2
  const top = r.y - 2
  const bottom = r.y + r.h + 2
  const n = kbs.length
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((pix[2 * mid] as number) < left) lo = mid + 1
    else hi = mid
  }
  let prev = false
  let qx = 0
  let qy = 0
  for (let i = Math.max(0, lo - 1); i < n; i++) {
    const px = pix[2 * i] as number
    if (Number.isNaN(kbs[i] as number)) {
      prev = false
      continue
    }
    const py = pix[2 * i + 1] as number
    if (prev && px >= left && qx <= right) {
      // Both ends well above or well below the rectangle: so is the segment between them (its points stay
      // between its ends, give or take a rounding far under the margin). No need to work them out.
      if ((qy < top - SAME_SIDE && py < top - SAME_SIDE) || (qy > bottom + SAME_SIDE && py > bottom + SAME_SIDE)) {
        if (px > right) break
        qx = px
        qy = py
        continue
      }
      const a = Math.max(left, qx)
      const b = Math.min(right, px)
      const ya = px === qx ? py : qy + ((py - qy) * (a - qx)) / (px - qx)
      const yb = px === qx ? py : qy + ((py - qy) * (b - qx)) / (px - qx)
      if (Math.max(ya, yb) >= top && Math.min(ya, yb) <= bottom) return true
    } else if (!prev && px >= left && px <= right && py >= top && py <= bottom) return true
    if (px > right) break
    prev = true
    qx = px
    qy = py
  }
  return false
}

/** Where a label may go: its anchor point and which end of the text sits there. */
interface Spot {
  x: number
  y: number
  anchor: 'start' | 'middle' | 'end'
}

function peakText(kb: number): string {
  return gib(kb * 1024)
}

/**
 * Whether a rectangle of the process panel is clear of every process's
 * line: for the runners' labels, and the markers' (a label's halo over a
 * line would hide it). Only lines that come near a spot can cross it:
 * checking those gives the answer checking all would.
 */
export function clearOfLines(trace: Trace, box: Box, x: (t: number) => number, planGiB?: number): (r: Rect) => boolean {
  const y = fastLinear(rssScale(trace, box, planGiB))
  const yOfKb = (kb: number) => y((kb * 1024) / GIB)
  // A sample inside the spot (with the 2 px the line test keeps clear) settles it at once.
  const points = new PointGrid(trace.procs, x, yOfKb, box)
  // Made once the grid has left PLAIN_TRIES spots unsettled: most charts never need it (on 10,000 processes, 17 of
  // 46,696 spots), and until then each spot is tested against the lines whose time span reaches it.
  let lines: LineIndex | undefined
  let plain = 0
  let ends: Float64Array | undefined
  // The line that crossed the last spot tried is tried first: the next spot is near it, and one crossing line settles it.
  let lastHit = -1
  const hits = (o: ProcSeries, at: number, r: Rect) => crosses(o, r, x, y, lines?.pixels(o, at))
  const hit = (o: ProcSeries, at: number, r: Rect) => {
    if (!hits(o, at, r)) return false
    lastHit = at
    return true
  }
  return (r: Rect) => {
    if (points.anyIn(r, 2)) return false
    const last = trace.procs[lastHit]
    if (last && hits(last, lastHit, r)) return false
    if (!lines && plain < PLAIN_TRIES) {
      plain++
      // Its segments lie between its first and last samples: a line whose span ends left of the spot, or starts right of it, cannot cross.
      // Nor can one whose highest point lies below the spot (with a margin far above any rounding).
      const left = r.x - 2
      const right = r.x + r.w + 2
      const below = r.y + r.h + 2 + SAME_SIDE
      const e = (ends ??= lineEnds(trace.procs, x, yOfKb))
      for (let at = 0; at < trace.procs.length; at++) {
        if (e[3 * at]! <= right && e[3 * at + 1]! >= left && !(e[3 * at + 2]! > below) && hit(trace.procs[at] as ProcSeries, at, r)) return false
      }
      return true
    }
    lines ??= new LineIndex(trace.procs, x, yOfKb)
    return !lines.some(r, 2, (o, at) => hit(o, at, r))
  }
}

/** Spots tested against the lines' time spans, before the lines are indexed by where they run. */
const PLAIN_TRIES = 64

/**
 * By process, at 3k to 3k + 2: the x of its first and last samples and the
 * y of its highest sample (NaN without one), worked out once for every
 * spot: before, each spot called the scales for every process.
 */
function lineEnds(procs: readonly ProcSeries[], x: (t: number) => number, yOfKb: (kb: number) => number): Float64Array {
  const e = new Float64Array(3 * procs.length).fill(NaN)
  procs.forEach((o, at) => {
    const n = o.tsMs.length
    if (n === 0) return
    e[3 * at] = x(o.tsMs[0] as number)
    e[3 * at + 1] = x(o.tsMs[n - 1] as number)
    // Read from the samples, not the series' peak: the line is drawn through them.
    let top = -Infinity
    for (let i = 0; i < n; i++) if ((o.rssKb[i] as number) > top) top = o.rssKb[i] as number
    if (top > -Infinity) e[3 * at + 2] = yOfKb(top)
  })
  return e
}

export function directLabels(trace: Trace, box: Box, x: (t: number) => number, styles: ProcStyle[], th: Theme, taken: Occupied, clear: (r: Rect) => boolean, planGiB?: number): string {
  const y = fastLinear(rssScale(trace, box, planGiB))
  const runners = trace.procs.map((s, i) => ({ s, i })).filter(r => r.s.role === 'runner' && r.s.tsMs.length > 0)
  runners.sort((a, b) => b.s.peakRssKb - a.s.peakRssKb || a.i - b.i)
  const parts: string[] = []
  const named = new Set<string>()
  for (const { s, i } of runners) {
    let k = s.tsMs.length - 1
    while (k > 0 && Number.isNaN(s.rssKb[k])) k--
    const ex = x(s.tsMs[k] as number)
    const ey = y(((s.rssKb[k] as number) * 1024) / GIB)
    const peak = peakText(s.peakRssKb)
    const pk = s.rssKb.indexOf(s.peakRssKb)
    const px = x(s.tsMs[Math.max(0, pk)] as number)
    const py = y((s.peakRssKb * 1024) / GIB)
    // Ends a little short of the line's end: a marker there (an unload) keeps its line clear.
    const endX = Math.min(ex - 6, box.x + box.w - 4) // a line ending at the right edge is labelled inside it
    // At the line's end first; a runner that ends among other lines (its RSS falling as it exits) is labelled over its peak.
    const spots: Spot[] = [
      { x: ex + 6, y: ey + 4, anchor: 'start' },
      { x: endX, y: ey - 7, anchor: 'end' },
      { x: endX, y: ey + 15, anchor: 'end' },
      { x: ex + 6, y: ey - 7, anchor: 'start' },
      // Over and under the peak: centred, then ending there, then starting there.
      { x: px, y: py - 7, anchor: 'middle' },
      { x: px, y: py + 15, anchor: 'middle' },
      { x: px, y: py - 7, anchor: 'end' },
      { x: px, y: py + 15, anchor: 'end' },
      { x: px, y: py - 7, anchor: 'start' },
      { x: px, y: py + 15, anchor: 'start' },
      // Beside the peak, level with it: a steep line leaves room on either side.
      { x: px - 6, y: py + 4, anchor: 'end' },
      { x: px + 6, y: py + 4, anchor: 'start' },
      // Past a marker's line at the end (a kill, an unload drawn a few seconds after the last sample).
      { x: ex + 12, y: ey + 4, anchor: 'start' },
      { x: ex + 12, y: ey - 7, anchor: 'start' },
    ]
    const fits = (r: Rect) => inside(r, box, 2) && taken.free(r, 3) && clear(r)
    // Every form's box at a spot holds the bare figure's box there (as wide or wider, from the same anchor, and
    // the same baseline for its last line): where the bare figure does not fit, no form does. Trying it first
    // at each spot rules those spots out once, not once per form; most runners of a crowded chart stop here.
    const bareW = textWidth(peak, FONT, BOLD)
    const open = spots.filter(p => fits(textRect(p.x, p.y, bareW, FONT, p.anchor)))
    if (open.length === 0) continue
    // The model is named once, at its highest peak; its other runners show their peak only.
    // Without room for the whole, the model keeps its name before the word `peak` goes: at 700 px a runner
    // that matters reads `llama3.3:70b · 30.5 GiB`, not a bare figure.
    // Last before a bare figure, the name over the figure, on two lines: it fits between two markers' lines.
    const forms: string[][] = named.has(modelKey(s)) ? [[`peak ${peak}`], [peak]] : [[`${modelKey(s)} · peak ${peak}`], [`${modelKey(s)} · ${peak}`], [modelKey(s), peak], [peak]]
    for (const lines of forms) {
      const w = Math.max(...lines.map(l => textWidth(l, FONT, BOLD)))
      const up = (lines.length - 1) * LINE
      let spot: (Spot & { r: Rect }) | undefined
      for (const p of open) {
        const last = textRect(p.x, p.y, w, FONT, p.anchor)
        const r = { ...last, y: last.y - up, h: last.h + up }
        // The bare figure was tried above: the same box.
        if (lines.length === 1 && lines[0] === peak) {
          spot = { ...p, r }
          break
        }
        if (fits(r)) {
          spot = { ...p, r }
          break
        }
      }
      if (!spot) continue
      taken.add(spot.r)
      if (lines[0] !== peak) named.add(modelKey(s))
      const a = { class: 'direct-label', 'data-pid': s.pid, x: spot.x, y: spot.y - up, 'font-size': FONT, 'font-weight': 600, 'text-anchor': spot.anchor === 'start' ? undefined : spot.anchor, fill: (styles[i] as ProcStyle).color }
      parts.push(
        lines.length === 1
          ? haloText(a, lines[0] as string, th.panel)
          : el('text', { ...a, stroke: th.panel, 'stroke-width': 3, 'stroke-linejoin': 'round', 'paint-order': 'stroke' }, ...lines.map((l, n) => el('tspan', { x: spot.x, dy: n === 0 ? undefined : LINE }, esc(l)))),
      )
      break
    }
  }
  return el('g', { class: 'direct-labels' }, ...parts)
}
