/** Bands over time intervals, drawn in both panels so cause and effect line up. */
import type { Interval } from '../../core/model/intervals.js'
import { formatTs } from '../../core/parse/time.js'
import type { Box } from './axes.js'
import { el } from '../../core/svg.js'

export interface BandKind {
  cls: 'low-free-band' | 'runner-overlap' | 'orphan-band'
  color: string
  opacity: number
  /** Where the solid strip runs that keeps the band visible on any screen. */
  edge: 'top' | 'bottom'
  /** Pixels between the panel's edge and the strip: a second kind's strip runs under the first's. */
  inset?: number
}

/**
 * One translucent rectangle per interval over the panel (`fill`), and a
 * 3 px solid strip along one edge (`edge`, drawn after every fill so no
 * other band tints it): the fill alone is too faint to meet 3:1 contrast,
 * the strip is not.
 */
export function drawBands(intervals: readonly Interval[], kind: BandKind, x: (t: number) => number, box: Box, panel: string, part: 'fill' | 'edge'): string {
  return intervals
    .map(iv => {
      const x0 = Math.max(box.x, Math.min(box.x + box.w - 2, x(iv.startMs)))
      const x1 = Math.min(box.x + box.w, Math.max(x(iv.endMs), x0 + 2))
      const w = Math.max(2, x1 - x0)
      const ey = kind.edge === 'top' ? box.y + (kind.inset ?? 0) : box.y + box.h - 3 - (kind.inset ?? 0)
      if (part === 'edge') return el('rect', { class: 'band-edge', x: x0, y: ey, width: w, height: 3, fill: kind.color })
      return el('rect', {
          class: kind.cls,
          'data-panel': panel,
          'data-start': formatTs(iv.startMs),
          'data-end': formatTs(iv.endMs),
          x: x0,
          y: box.y,
          width: w,
          height: box.h,
          fill: kind.color,
          'fill-opacity': kind.opacity,
        })
    })
    .join('')
}
