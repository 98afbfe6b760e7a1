/** The top panel: resident memory of each Ollama process. */
import { scaleLinear, type ScaleLinear } from 'd3-scale'
import { line as d3line } from 'd3-shape'
import type { Trace } from '../../core/model/trace.js'
import { GAP_FACTOR, procPeriod } from '../../core/model/intervals.js'
import { ByteSink } from './byte-sink.js'
import { type Pt, writePixelPath } from './decimate.js'
import { fastLinear } from './linear.js'
import { type Box, timeAxis, valueAxis } from './axes.js'
import type { ProcStyle } from './proc-style.js'
import type { Theme } from './style.js'
import { attrs, el, text } from '../../core/svg.js'

import { GIB } from '../../core/units.js'

export { GIB }

export type Ticks = { ms: number; label: string }[]

/**
 * The path through pixel points, broken at nulls, exactly as d3's line()
 * with a linear curve and one decimal writes it: `M` at the first point of
 * each run, `L` at the next ones, and `Z` after a run of a single point (so a
 * lone sample still shows as a dot). Written out here, in one flat string:
 * d3 built it a few characters at a time, which on a chart of thousands of
 * processes cost more than everything else in the panel.
 */
export function pathOf(points: Pt[]): string {
  const out: (string | number)[] = []
  let run = 0
  for (const p of points) {
    if (p === null) {
      if (run === 1) out.push('Z')
      run = 0
      continue
    }
    out.push(run === 0 ? 'M' : 'L', Math.round(p[0] * 10) / 10, ',', Math.round(p[1] * 10) / 10)
    run++
  }
  if (run === 1) out.push('Z')
  return out.join('')
}

/** The same path as d3 writes it, for the tests that hold the two side by side. */
export function d3PathOf(points: Pt[]): string {
  return (
    d3line<Pt>()
      .defined(p => p !== null)
      .x(p => (p as readonly [number, number])[0])
      .y(p => (p as readonly [number, number])[1])
      .digits(1)(points) ?? ''
  )
}

export const PLAN_DASH = '10 5'

/** The RSS scale: zero to the largest peak (or a planned level above it), rounded up. */
/** The RSS axis reaches this far above the highest peak, before rounding up. */
const HEADROOM = 1.12

export function rssScale(trace: Trace, box: Box, planGiB = 0): ScaleLinear<number, number> {
  const maxKb = Math.max(1, ...trace.procs.map(s => s.peakRssKb))
  return scaleLinear()
    // Room above the highest line for the markers' labels and its own (a planned level never on the frame).
    .domain([0, Math.max(((maxKb * 1024) / GIB) * HEADROOM, planGiB * 1.08)])
    .nice()
    .range([box.y + box.h, box.y])
}

/**
 * Frame, axes, `bands` (already drawn) and one line per process, as the
 * bytes of their text: each line's path is written into them as it is made,
 * its numbers as digits.
 */
export function procPanel(trace: Trace, box: Box, x: (t: number) => number, ticks: Ticks, bands: string, styles: ProcStyle[], th: Theme, planGiB?: number): ByteSink {
  const y = rssScale(trace, box, planGiB)
  const yf = fastLinear(y)
  const gap = GAP_FACTOR * procPeriod(trace)
  const yOfKb = (kb: number) => yf((kb * 1024) / GIB)
  // The group as el('g') writes it.
  const out = new ByteSink()
  out.add(GROUP_OPEN)
  out.add(el('rect', { class: 'panel', 'data-panel': 'processes', x: box.x, y: box.y, width: box.w, height: box.h, fill: th.panel, stroke: th.frame }))
  out.add(valueAxis(y, box, 'left', v => `${+v.toFixed(2)}`, 'RSS (GiB)', th))
  out.add(timeAxis(ticks, x, box, true, th))
  out.add(bands)
  trace.procs.forEach((s, i) => {
    const st = styles[i] as ProcStyle
    // el('path', …) with its attributes in the same order; the path's text needs no escaping (digits, `MLZ,.-`).
    out.add(`<path${attrs({ class: 'rss-line', 'data-pid': s.pid, 'data-role': s.role, 'data-model': s.model })} d="`)
    writePixelPath(out, s.tsMs, s.rssKb, x, yOfKb, gap, box.w)
    out.add(
      `"${attrs({
        fill: 'none',
        stroke: st.color,
        'stroke-width': st.width,
        'stroke-dasharray': st.dash,
        'stroke-linejoin': 'round',
        'stroke-linecap': 'round', // a process seen once still shows as a dot
      })}/>`,
    )
  })
  // What `memtrace plan` predicts a runner holds: a dashed level across the panel, named in the legend.
  if (planGiB !== undefined) out.add(el('line', { class: 'plan-line', x1: box.x, x2: box.x + box.w, y1: y(planGiB), y2: y(planGiB), stroke: th.text, 'stroke-width': 1.5, 'stroke-dasharray': PLAN_DASH }))
  if (trace.procs.length === 0) {
    out.add(text({ x: box.x + box.w / 2, y: box.y + box.h / 2, 'text-anchor': 'middle', 'font-size': 13, fill: th.muted }, 'no Ollama processes in the process trace'))
  }
  out.add(GROUP_CLOSE)
  return out
}

const [GROUP_OPEN, GROUP_CLOSE] = el('g', { class: 'panel-processes' }, '\n').split('\n') as [string, string]
