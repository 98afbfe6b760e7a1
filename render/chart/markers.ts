/**
 * Markers from `memtrace mark`: a dashed line in each panel (never across
 * the legend between them) and a label at the top of the process panel;
 * and the server's decisions from its log (evicted, fits, context reduced,
 * killed, …) the same way, in their own colour with a dotted line. Decisions
 * of one kind a few pixels apart are drawn once, counted (`evicted ×5`).
 * When the labels cannot all be placed without touching each other, every
 * mark is numbered (M1, M2, …) and listed in full below the chart.
 */
import type { Trace } from '../../core/model/trace.js'
import type { Box } from './axes.js'
import { collide, inside, type Occupied, type Rect, textRect } from './rects.js'
import type { Theme } from './style.js'
import { clip, el, haloText } from '../../core/svg.js'
import { textWidth } from './text-width.js'
import { wallClock } from './time-axis.js'

const FONT = 11
const ROW = 15
const FULL_ROWS = 2
/** Numbers stay in the top rows, off the data below. */
const NUMBER_ROWS = 3
/** The list below the chart names this many markers, then counts the rest. */
export const MAX_LISTED = 20

interface Mark {
  ts: string
  px: number
  label: string
  /** The server's decision, with the sentence for the list and its label without the model. */
  server?: { text: string; count: number; brief: string }
}

/** A server decision to draw: when, a word or two, and a sentence. */
export interface DecisionMark {
  ms: number
  label: string
  /** The label without the runner's model, for a crowded chart. */
  brief: string
  text: string
}

/** Decisions of one kind closer than this (px) are one mark. */
const MERGE_PX = 6

export interface Markers {
  svg: string
  /** `M1 14:03:58 switch model` lines for the list below the chart; empty when the labels fit. */
  list: string[]
}

type Spot = { x: number; y: number; anchor: 'start' | 'end'; r: Rect }

/**
 * A spot for each label in the top rows of the panel, clear of the other
 * labels, of `taken` and of the other markers' lines; undefined for a label
 * that found none. Short numbers (`mayCross`) take a spot across a
 * neighbour's line only when no clear one is left: their halo keeps them
 * legible.
 */
function place(marks: Mark[], labels: string[], top: Box, rows: number, taken: Occupied, mayCross: boolean, clear: (r: Rect) => boolean): (Spot | undefined)[] {
  const lines: Rect[] = marks.map(m => ({ x: m.px - 0.5, y: top.y, w: 1, h: top.h }))
  const placed: Rect[] = []
  return marks.map((m, i) => {
    const w = textWidth(labels[i] as string, FONT)
    for (const strict of mayCross ? [true, false] : [true]) {
      for (let row = 0; row < rows; row++) {
        const y = top.y + 13 + row * ROW
        for (const anchor of ['start', 'end'] as const) {
          const x = anchor === 'start' ? m.px + 4 : m.px - 4
          const r = textRect(x, y, w, FONT, anchor)
          // Strict: off the other markers' lines and off the data; a short number may cross them when nothing else is left.
          const free = inside(r, top, 1) && taken.free(r) && placed.every(o => !collide(r, o, 4)) && (!strict || (lines.every((l, k) => k === i || !collide(r, l, 2)) && clear(r)))
          if (free) {
            placed.push(r)
            return { x, y, anchor, r }
          }
        }
      }
    }
    return undefined
  })
}

/** The decisions within the plot, one per kind a few pixels apart, counted. */
function decisions(list: DecisionMark[], x: (t: number) => number, top: Box): Mark[] {
  const out: Mark[] = []
  const last = new Map<string, Mark>()
  for (const d of list) {
    const px = x(d.ms)
    if (px < top.x - 0.5 || px > top.x + top.w + 0.5) continue
    const prev = last.get(d.label)
    if (prev?.server && px - prev.px < MERGE_PX) {
      prev.server.count++
      continue
    }
    const m: Mark = { ts: new Date(d.ms).toISOString(), px, label: d.label, server: { text: d.text, count: 1, brief: d.brief } }
    last.set(d.label, m)
    out.push(m)
  }
  for (const m of out) if (m.server && m.server.count > 1) m.label += ` ×${m.server.count}`
  return out
}

/**
 * `first` runs once the markers' lines are taken and before their labels are
 * placed: the runners' own labels go there first, by their lines, and the
 * markers' labels, which may go either side of their line or in a second
 * row, keep clear of them.
 */
export function drawMarkers(trace: Trace, x: (t: number) => number, top: Box, bottom: Box, zone: string, th: Theme, taken: Occupied, server: DecisionMark[] = [], clear: (r: Rect) => boolean = () => true, first: () => void = () => {}): Markers {
  const marks: Mark[] = trace.events
    .filter(e => e.kind === 'marker')
    .map(e => ({ ts: e.ts, px: x(Date.parse(e.ts)), label: e.text ?? '' }))
    .filter(m => m.px >= top.x - 0.5 && m.px <= top.x + top.w + 0.5)
  marks.push(...decisions(server, x, top))
  marks.sort((a, b) => a.px - b.px)
  // The lines first: the runners' labels, placed next, must not sit on them.
  const lineRects = marks.map(m => ({ x: m.px - 1, y: top.y, w: 2, h: top.h }))
  const before = taken.rects.length
  for (const r of lineRects) taken.add(r)
  first()
  // These labels keep off the lines themselves (a short number may cross one when nothing else is left).
  taken.rects.splice(before, lineRects.length)
  const full = marks.map(m => clip(m.label, 48))
  let labels = full
  let spots = place(marks, full, top, FULL_ROWS, taken, false, clear)
  // A decision names its runner's model when there is room (`evicted qwen3:8b`), else only what it was (`evicted`).
  const brief = marks.map(m => (m.server ? m.server.brief + (m.server.count > 1 ? ` ×${m.server.count}` : '') : clip(m.label, 48)))
  if (spots.some(s => s === undefined) && brief.some((b, i) => b !== full[i])) {
    const again = place(marks, brief, top, FULL_ROWS, taken, false, clear)
    if (again.every(s => s !== undefined)) {
      labels = brief
      spots = again
    }
  }
  const numbered = spots.some(s => s === undefined)
  if (numbered) {
    labels = marks.map((_, i) => `M${i + 1}`)
    spots = place(marks, labels, top, NUMBER_ROWS, taken, true, clear)
  }
  for (const r of lineRects) taken.add(r)
  const parts = marks.map((m, i) => {
    const s = spots[i]
    if (s) taken.add(s.r)
    const color = m.server ? th.decision : th.marker
    const line = (b: Box) => el('line', { x1: m.px, x2: m.px, y1: b.y, y2: b.y + b.h, stroke: color, 'stroke-dasharray': m.server ? '1.5 2.5' : '4 3', 'stroke-width': m.server ? 1.5 : 1 })
    const label = s ? haloText({ x: s.x, y: s.y, 'font-size': FONT, 'text-anchor': s.anchor === 'end' ? 'end' : undefined, fill: m.server ? th.decision : th.heading, 'font-weight': m.server ? 600 : undefined }, labels[i] as string, th.panel) : ''
    return el('g', { class: m.server ? 'marker server' : 'marker', 'data-ts': m.ts, 'data-n': numbered ? i + 1 : undefined }, line(top), line(bottom), label)
  })
  const listed = (m: Mark) => (m.server ? `${m.server.text}${m.server.count > 1 ? ` (×${m.server.count}, the first)` : ''}` : m.label)
  const all = numbered ? marks.map((m, i) => `M${i + 1} ${wallClock(Date.parse(m.ts), zone, { seconds: true })} ${clip(listed(m), 120)}`) : []
  const list = all.length > MAX_LISTED ? [...all.slice(0, MAX_LISTED), `… and ${all.length - MAX_LISTED} more markers in the report`] : all
  return { svg: el('g', { class: 'markers' }, ...parts), list }
}
