import { clip, el, text, textWidth } from './svg.js'

export interface LegendItem {
  label: string
  color: string
  dash?: string
  /** A filled swatch (bands) instead of a line. */
  swatch?: boolean
}

const ROW_H = 18
const FONT = 11.5
const MAX_LABEL = 70

/** Rows needed to lay the items out in `width`. */
export function legendRows(items: LegendItem[], width: number): number {
  return layout(items, width).rows
}

function layout(items: LegendItem[], width: number) {
  const pos: { x: number; row: number }[] = []
  let x = 0
  let row = 0
  for (const it of items) {
    const w = 26 + textWidth(clip(it.label, MAX_LABEL), FONT) + 18
    if (x > 0 && x + w > width) {
      row++
      x = 0
    }
    pos.push({ x, row })
    x += w
  }
  return { pos, rows: items.length === 0 ? 0 : row + 1 }
}

export const LEGEND_ROW_H = ROW_H

/** The legend as an SVG group at (x, y). */
export function drawLegend(items: LegendItem[], x: number, y: number, width: number, cls: string, textColor: string): string {
  const { pos } = layout(items, width)
  const parts = items.map((it, i) => {
    const p = pos[i] as { x: number; row: number }
    const px = x + p.x
    const py = y + p.row * ROW_H + ROW_H / 2
    const mark = it.swatch
      ? el('rect', { x: px, y: py - 5, width: 20, height: 10, fill: it.color, 'fill-opacity': 0.35 })
      : el('line', { x1: px, y1: py, x2: px + 20, y2: py, stroke: it.color, 'stroke-width': 2.5, 'stroke-dasharray': it.dash })
    return mark + text({ x: px + 26, y: py + 4, 'font-size': FONT, fill: textColor }, clip(it.label, MAX_LABEL))
  })
  return el('g', { class: cls }, ...parts)
}
