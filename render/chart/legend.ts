import { el, text } from '../../core/svg.js'
import { fitText, textWidth } from './text-width.js'

export interface LegendItem {
  label: string
  color: string
  dash?: string
  /** A filled swatch (bands) at this opacity, with a solid edge, instead of a line. */
  swatch?: number
  /** No mark at all: a note such as `no swap`. */
  note?: boolean
}

const ROW_H = 18
const FONT = 11.5
const MARK_W = 26
const GAP = 18

/** Labels are shortened only when one alone is wider than the legend. */
function label(it: LegendItem, width: number): string {
  return fitText(it.label, FONT, width - (it.note ? 0 : MARK_W) - 4)
}

/** Items laid out in a width: each one's label (shortened as needed), its place and row, and the rows needed. */
export interface Legend {
  items: LegendItem[]
  labels: string[]
  pos: { x: number; row: number }[]
  rows: number
}

/** Lays the items out once, for their height and their drawing: a host's thousands of processes make thousands of items. */
export function legendLayout(items: LegendItem[], width: number): Legend {
  const pos: { x: number; row: number }[] = []
  const labels: string[] = []
  let x = 0
  let row = 0
  for (const it of items) {
    const t = label(it, width)
    const w = (it.note ? 0 : MARK_W) + textWidth(t, FONT) + GAP
    if (x > 0 && x + w - GAP > width) {
      row++
      x = 0
    }
    pos.push({ x, row })
    labels.push(t)
    x += w
  }
  return { items, labels, pos, rows: items.length === 0 ? 0 : row + 1 }
}

export const LEGEND_ROW_H = ROW_H

/** The legend as an SVG group whose first row's middle is at y + ROW_H / 2. */
export function drawLegend(legend: Legend, x: number, y: number, cls: string, textColor: string): string {
  const { items, labels, pos } = legend
  const parts = items.map((it, i) => {
    const p = pos[i] as { x: number; row: number }
    const px = x + p.x
    const py = y + p.row * ROW_H + ROW_H / 2
    const t = labels[i] as string
    if (it.note) return text({ x: px, y: py + 4, 'font-size': FONT, 'font-style': 'italic', fill: textColor }, t)
    const mark =
      it.swatch !== undefined
        ? el('rect', { x: px, y: py - 5, width: 20, height: 10, fill: it.color, 'fill-opacity': it.swatch, stroke: it.color, 'stroke-width': 1.5 })
        : el('line', { x1: px, y1: py, x2: px + 20, y2: py, stroke: it.color, 'stroke-width': 2.5, 'stroke-dasharray': it.dash })
    return mark + text({ x: px + MARK_W, y: py + 4, 'font-size': FONT, fill: textColor }, t)
  })
  return el('g', { class: cls }, ...parts)
}
