/** The bottom panel: system memory on a scale that tops at the host's memory. */
import { scaleLinear, type ScaleLinear } from 'd3-scale'
import { hasNoSwap, NOT_DRAWN, type Trace } from '../../core/model/trace.js'
import { GAP_FACTOR, sysPeriod } from '../../core/model/intervals.js'
import { pixelPath } from './decimate.js'
import { fastLinear } from './linear.js'
import { type Box, timeAxis, valueAxis } from './axes.js'
import type { LegendItem } from './legend.js'
import { GIB, type Ticks } from './proc-panel.js'
import { SERIES_STYLE, seriesColor, seriesDash, type Theme } from './style.js'
import { el, haloText } from '../../core/svg.js'

/**
 * The series drawn: those with any value, less `swap-total`, a swap that
 * does not exist, and on Linux the available % (MemAvailable / MemTotal with
 * 100 % at the host line is the available line itself: the right axis reads it).
 */
export function systemSeries(trace: Trace): { names: string[]; noSwap: boolean } {
  const f = trace.sys.fields
  const has = (n: string) => f.get(n)?.some(v => !Number.isNaN(v)) ?? false
  const noSwap = hasNoSwap(trace)
  const samePct = (trace.sys.platform === 'linux' || trace.sys.platform === 'windows') && has('available') && trace.sys.memTotalBytes !== undefined
  const names = [...f.keys()].filter(n => has(n) && !NOT_DRAWN.has(n) && !(noSwap && n === 'swap-used') && !(samePct && n === 'free-pct'))
  return { names, noSwap }
}

/** Series read on the right axis, in percent: free or available %, and memory pressure. */
export function isPercent(name: string): boolean {
  return name === 'free-pct' || name === 'psi'
}

/** What the right axis and the red bands measure, named so the two "free"s are not confused. */
export function freePctName(platform: string): string {
  return platform === 'linux' || platform === 'windows' ? 'available % of total' : 'free % (memory_pressure)'
}

export function seriesLabel(name: string, platform: string): string {
  const [kind, gpu] = name.split(':')
  if (kind === 'gpu-used') return `GPU ${gpu} used`
  if (kind === 'gpu-total') return `GPU ${gpu} total`
  if (kind === 'free-pct') return `${freePctName(platform)}, right axis`
  if (kind === 'available' && platform === 'linux') return 'available (MemAvailable; right axis: % of host)'
  if (kind === 'available' && platform === 'windows') return 'available (right axis: % of host)'
  return SERIES_STYLE[kind as string]?.label ?? name
}

const HOST_DASH = '6 3'

/** `32 GiB host = 100%`: what the dashed line at the top of the panel is. */
export function hostLabel(trace: Trace): string | undefined {
  const b = trace.sys.memTotalBytes
  return b ? `${+(b / GIB).toFixed(1)} GiB host = 100%` : undefined
}

export function systemLegend(trace: Trace, names: string[], noSwap: boolean, hasLows: boolean, lowFreePct: number, th: Theme): LegendItem[] {
  const host = hostLabel(trace)
  const items: LegendItem[] = host ? [{ label: host, color: th.text, dash: HOST_DASH }] : []
  items.push(...names.map(n => {
    const dash = seriesDash(n, names)
    const label = seriesLabel(n, trace.sys.platform)
    return dash ? { label, color: seriesColor(n, th), dash } : { label, color: seriesColor(n, th) }
  }))
  if (noSwap) items.push({ label: 'no swap', color: th.text, note: true })
  const unread = gpuUnreadNote(trace)
  if (unread) items.push({ label: unread, color: th.text, note: true })
  const band = `red: ${trace.sys.platform === 'linux' || trace.sys.platform === 'windows' ? 'available' : 'memory_pressure free %'} under ${lowFreePct}%`
  items.push(hasLows ? { label: band, color: th.lowFree, swatch: th.lowFreeOpacity } : { label: `${band}: never`, color: th.lowFree, dash: '2 4' })
  return items
}

/** Said once: GPUs whose memory the driver never gave, and on unified memory where it went. */
export function gpuUnreadNote(trace: Trace): string | undefined {
  const names = trace.sys.gpuUnread
  if (!names?.length) return undefined
  return `${names.join(', ')}: memory not reported${trace.sys.unifiedMemory ? '; it is system RAM' : ''}`
}

export interface SystemScales {
  y: ScaleLinear<number, number>
  pct: ScaleLinear<number, number>
  hostGiB?: number
}

/**
 * The left axis tops at the host's memory (higher only when a series goes
 * past it); the right axis maps 100 % to that same host line, so a
 * percentage and the GiB it stands for sit at one height.
 */
export function systemScales(trace: Trace, names: string[], box: Box): SystemScales {
  const host = trace.sys.memTotalBytes ? trace.sys.memTotalBytes / GIB : undefined
  let max = 0
  for (const n of names) if (!isPercent(n)) for (const v of trace.sys.fields.get(n) ?? []) if (v / GIB > max) max = v / GIB
  const bottom = box.y + box.h
  if (host === undefined) {
    return { y: scaleLinear().domain([0, Math.max(max, 1)]).nice().range([bottom, box.y]), pct: scaleLinear().domain([0, 100]).range([bottom, box.y]) }
  }
  // Past the host, 4 % of headroom: a GPU's total just above it must not lie on the panel's frame.
  const y = max > host * 1.001 ? scaleLinear().domain([0, max * 1.04]).nice().range([bottom, box.y]) : scaleLinear().domain([0, host]).range([bottom, box.y])
  return { y, pct: scaleLinear().domain([0, 100]).range([bottom, y(host)]), hostGiB: host }
}

export interface SystemPanelArgs {
  trace: Trace
  box: Box
  x: (t: number) => number
  ticks: Ticks
  bands: string
  names: string[]
  lowFreePct: number
  th: Theme
}

export function systemPanel(a: SystemPanelArgs): string {
  const { trace, box, x, th } = a
  const { y, pct, hostGiB } = systemScales(trace, a.names, box)
  const gap = GAP_FACTOR * sysPeriod(trace)
  const plat = trace.sys.platform
  const parts = [
    el('rect', { class: 'panel', 'data-panel': 'system', x: box.x, y: box.y, width: box.w, height: box.h, fill: th.panel, stroke: th.frame }),
    valueAxis(y, box, 'left', v => `${+v.toFixed(1)}`, 'GiB', th),
    valueAxis(pct, box, 'right', v => `${v}%`, plat === 'linux' ? (a.names.includes('psi') ? 'available %, pressure %' : 'available %') : plat === 'windows' ? 'available %' : 'free % (memory_pressure)', th),
    timeAxis(a.ticks, x, box, true, th),
    a.bands,
    el('line', { class: 'threshold', x1: box.x, x2: box.x + box.w, y1: pct(a.lowFreePct), y2: pct(a.lowFreePct), stroke: th.lowFree, 'stroke-dasharray': '2 4', 'stroke-width': 1.5 }),
  ]
  const yf = fastLinear(y)
  const pf = fastLinear(pct)
  for (const n of a.names) {
    const isPct = isPercent(n)
    const [kind, gpu] = n.split(':')
    parts.push(
      el('path', {
        class: 'sys-series',
        'data-series': kind,
        'data-gpu': gpu,
        d: pixelPath(trace.sys.tsMs, trace.sys.fields.get(n) as Float64Array, x, isPct ? v => pf(v) : v => yf(v / GIB), gap, box.w),
        fill: 'none',
        stroke: seriesColor(n, th),
        'stroke-width': isPct ? 1.5 : 2,
        'stroke-dasharray': seriesDash(n, a.names),
        'stroke-linejoin': 'round',
      }),
    )
  }
  if (hostGiB !== undefined) {
    // Named in the legend, not beside the line: a label on the panel hid the samples under it.
    const hy = y(hostGiB)
    parts.push(el('g', { class: 'host-line' }, el('line', { x1: box.x, x2: box.x + box.w, y1: hy, y2: hy, stroke: th.text, 'stroke-width': 1, 'stroke-dasharray': HOST_DASH })))
  }
  if (trace.sys.tsMs.length === 0) {
    parts.push(haloText({ x: box.x + box.w / 2, y: box.y + box.h / 2, 'text-anchor': 'middle', 'font-size': 13, fill: th.muted }, 'no system samples', th.panel))
  }
  return el('g', { class: 'panel-system' }, ...parts)
}
