import type { ScaleLinear } from 'd3-scale'
import { el, text } from '../../core/svg.js'
import type { Theme } from './style.js'

export interface Box {
  x: number
  y: number
  w: number
  h: number
}

/** Horizontal grid lines and labels of a value axis on the left or right. */
export function valueAxis(
  y: ScaleLinear<number, number>,
  box: Box,
  side: 'left' | 'right',
  format: (v: number) => string,
  title: string,
  th: Theme,
): string {
  const parts: string[] = []
  const x = side === 'left' ? box.x - 6 : box.x + box.w + 6
  // As many ticks as the axis has room for: labels 11 px high need about 24 px apart.
  let count = 5
  let ticks = y.ticks(count)
  while (count > 1 && ticks.length > 1 && Math.abs(y(ticks[1] as number) - y(ticks[0] as number)) < 24) ticks = y.ticks(--count)
  if (ticks.length > 1 && Math.abs(y(ticks[1] as number) - y(ticks[0] as number)) < 24) {
    const [lo, hi] = y.domain() as [number, number]
    ticks = Math.abs(y(hi) - y(lo)) < 24 ? [hi] : [lo, hi]
  }
  for (const v of ticks) {
    const py = y(v)
    if (side === 'left') {
      parts.push(el('line', { x1: box.x, y1: py, x2: box.x + box.w, y2: py, stroke: th.grid }))
    }
    parts.push(text({ x, y: py + 4, 'font-size': 11, 'text-anchor': side === 'left' ? 'end' : 'start', fill: th.muted }, format(v)))
  }
  const tx = side === 'left' ? box.x - 48 : box.x + box.w + 48
  const ty = box.y + box.h / 2
  parts.push(
    text({ x: tx, y: ty, 'font-size': 11.5, 'text-anchor': 'middle', fill: th.text, transform: `rotate(${side === 'left' ? -90 : 90} ${tx} ${ty})` }, title),
  )
  return el('g', { class: `axis axis-${side}` }, ...parts)
}

/** Vertical grid lines at the time ticks, with labels under the box. */
export function timeAxis(ticks: { ms: number; label: string }[], x: (ms: number) => number, box: Box, labels: boolean, th: Theme): string {
  const parts: string[] = []
  for (const t of ticks) {
    const px = x(t.ms)
    if (px < box.x - 0.5 || px > box.x + box.w + 0.5) continue
    parts.push(el('line', { x1: px, y1: box.y, x2: px, y2: box.y + box.h, stroke: th.gridTime }))
    if (labels) parts.push(text({ x: px, y: box.y + box.h + 18, 'font-size': 11, 'text-anchor': 'middle', fill: th.muted }, t.label))
  }
  return el('g', { class: 'axis axis-time' }, ...parts)
}
