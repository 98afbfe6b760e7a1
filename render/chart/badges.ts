/**
 * Numbered finding badges in a strip above the process panel, each over its
 * finding's interval (a bar from start to end under the badge), so the
 * number ties the place in time to the sentence below the chart. Badges
 * stack into rows, most important nearest the panel, and never overlap.
 */
import type { Finding } from '../../schemas/index.js'
import type { Box } from './axes.js'
import type { Theme } from './style.js'
import { el, esc, fmt, text } from '../../core/svg.js'
import { BOLD, textWidth } from './text-width.js'

export const BADGE_H = 16
const ROW = 20
const FONT = 10.5
/** Rows in which a badge also gets the bar over its interval. */
const SPAN_ROWS = 3

interface Placed {
  f: Finding
  cx: number
  w: number
  x0: number
  x1: number
  row: number
}

export function badgeWidth(n: number): number {
  return Math.max(BADGE_H, Math.ceil(textWidth(String(n), FONT, BOLD)) + 9)
}

/** A badge with its number centred at (cx, cy). */
export function badge(n: number, cx: number, cy: number, th: Theme): string {
  const w = badgeWidth(n)
  return (
    el('rect', { x: cx - w / 2, y: cy - BADGE_H / 2, width: w, height: BADGE_H, rx: BADGE_H / 2, fill: th.badge }) +
    text({ x: cx, y: cy + 3.8, 'font-size': FONT, 'font-weight': 700, 'text-anchor': 'middle', fill: th.badgeText }, String(n))
  )
}

export interface BadgeStrip {
  height: number
  draw(top: number): string
}

/** Lays out one badge per finding over `box`'s time range. */
export function badgeStrip(findings: Finding[], x: (t: number) => number, box: Box, th: Theme): BadgeStrip {
  const clampX = (v: number) => Math.max(box.x, Math.min(box.x + box.w, v))
  const rows: { x0: number; x1: number }[][] = []
  const fits = (row: number, x0: number, x1: number) => (rows[row] ?? []).every(o => x1 + 3 <= o.x0 || o.x1 + 3 <= x0)
  const placed: Placed[] = []
  for (const f of [...findings].sort((a, b) => a.n - b.n)) {
    const s = clampX(x(Date.parse(f.start)))
    let e = f.end ? clampX(x(Date.parse(f.end))) : s
    const w = badgeWidth(f.n)
    const cx = Math.max(box.x + w / 2, Math.min(box.x + box.w - w / 2, s))
    const b0 = Math.min(cx - w / 2, s)
    const b1 = cx + w / 2
    // With its span in one of the first SPAN_ROWS rows; else the badge alone, in the first row it fits.
    let row = [...Array(SPAN_ROWS).keys()].find(r => fits(r, b0, Math.max(b1, e)))
    if (row === undefined) {
      e = s
      row = [...Array(rows.length + 1).keys()].find(r => fits(r, b0, b1)) as number
    }
    while (rows.length <= row) rows.push([])
    ;(rows[row] as { x0: number; x1: number }[]).push({ x0: b0, x1: Math.max(b1, e) })
    placed.push({ f, cx, w, x0: s, x1: e, row })
  }
  const height = rows.length === 0 ? 0 : rows.length * ROW + 2
  return {
    height,
    draw(top: number): string {
      const parts = placed.map(p => {
        const cy = top + height - 2 - ROW / 2 - p.row * ROW
        const span =
          p.x1 - p.x0 > 1
            ? el('path', { d: `M${fmt(p.x0)},${fmt(cy - 4)}V${fmt(cy)}H${fmt(p.x1)}V${fmt(cy - 4)}`, fill: 'none', stroke: th.badge, 'stroke-width': 1.5 })
            : ''
        return el(
          'g',
          { class: 'finding', 'data-n': p.f.n, 'data-kind': p.f.kind, 'data-start': p.f.start, 'data-end': p.f.end ?? p.f.start },
          `<title>${esc(p.f.text)}</title>`,
          span,
          badge(p.f.n, p.cx, cy, th),
        )
      })
      return el('g', { class: 'findings' }, ...parts)
    },
  }
}
