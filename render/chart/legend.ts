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

/** Rows needed to lay the items out in `width`. */
export function legendRows(items: LegendItem[], width: number): number {
  return layout(items, width).rows
}

/** Labels are shortened only when one alone is wider than the legend. */
function label(it: LegendItem, width: number): string {
  return fitText(it.label, FONT, width - (it.note ? 0 : MARK_W) - 4)
}

function layout(items: LegendItem[], width: number) {
  const pos: { x: number; row: number }[] = []
  let x = 0
  let row = 0
  for (const it of items) {
    const w = (it.note ? 0 : MARK_W) + textWidth(label(it, width), FONT) + GAP
    if (x > 0 && x + w - GAP > width) {
      row++
      x = 0
    }
    pos.push({ x, row })
    x += w
  }
  return { pos, rows: items.length === 0 ? 0 : row + 1 }
}

export const LEGEND_ROW_H = ROW_H

/** The legend as an SVG group whose first row's middle is at y + ROW_H / 2. */
export function drawLegend(items: LegendItem[], x: number, y: number, width: number, cls: string, textColor: string): string {
  const { pos } = layout(items, width)
  const parts = items.map((it, i) => {
    const p = pos[i] as { x: number; row: number }
    const px = x + p.x
    const py = y + p.row * ROW_H + ROW_H / 2
    const t = label(it, width)
    if (it.note) return text({ x: px, y: py + 4, 'font-size': FONT, 'font-style': 'italic', fill: textColor }, t)
    const mark =
      it.swatch !== undefined
        ? el('rect', { x: px, y: py - 5, width: 20, height: 10, fill: it.color, 'fill-opacity': it.swatch, stroke: it.color, 'stroke-width': 1.5 })
        : el('line', { x1: px, y1: py, x2: px + 20, y2: py, stroke: it.color, 'stroke-width': 2.5, 'stroke-dasharray': it.dash })
    return mark + text({ x: px + MARK_W, y: py + 4, 'font-size': FONT, fill: textColor }, t)
  })
  return el('g', { class: cls }, ...parts)
}
