import { scaleLinear } from 'd3-scale'
import { line as d3line } from 'd3-shape'
import type { Finding } from '../../schemas/index.js'
import type { Trace } from '../model/trace.js'
import { GAP_FACTOR, type Interval, lowFreeIntervals, procPeriod, runnerOverlaps, sysPeriod } from '../model/intervals.js'
import { processLabel } from '../model/labels.js'
import { toPixels, type Pt } from '../model/decimate.js'
import { formatTs } from '../parse/time.js'
import { type Box, timeAxis, valueAxis } from './axes.js'
import { drawLegend, LEGEND_ROW_H, type LegendItem, legendRows } from './legend.js'
import { clip, el, esc, text } from './svg.js'
import { formatDuration, offsetName, timeTicks, wallClock, zoneOffsetMs } from './time-axis.js'
import { SERIES_STYLE, PROCESS_COLORS, type Theme, THEMES } from './style.js'

export interface ChartOptions {
  width: number
  height: number
  /** IANA zone the time labels are read in. */
  zone: string
  lowFreePct: number
  /** Names of the two inputs, shown in the subtitle (basenames). */
  procFile: string
  sysFile: string
  /** Extra lines for the <desc> (problems skipped, findings). */
  notes?: string[]
  theme?: 'light' | 'dark'
  /** Drawn as marks over their intervals along the top of the system panel. */
  findings?: Finding[]
}

const GIB = 1024 ** 3
const M = { left: 78, right: 78, top: 86 }

/** The whole chart as SVG text. Pure: same trace and options, same bytes. */
export function renderChart(trace: Trace, o: ChartOptions): string {
  const th = THEMES[o.theme ?? 'light']
  const plotW = o.width - M.left - M.right
  const procs = trace.procs
  const procItems = processLegend(trace, th)
  const overlaps = runnerOverlaps(trace)
  const lows = lowFreeIntervals(trace, o.lowFreePct)
  if (overlaps.length > 0) procItems.push({ label: 'two or more runners alive', color: '#f5a623', swatch: true })
  const sysNames = [...trace.sys.fields.keys()].filter(n => trace.sys.fields.get(n)?.some(v => !Number.isNaN(v)))
  const sysItems: LegendItem[] = sysNames.map(n => ({ label: seriesLabel(n, trace.sys.platform), ...styleOf(n) }))
  if (lows.length > 0) sysItems.push({ label: `free under ${o.lowFreePct}%`, color: '#e0302b', swatch: true })
  if (o.findings?.length) sysItems.push({ label: 'findings: bars along the top, one row per kind (hover for the sentence)', color: '#2c7bb6', swatch: true })

  const legendH1 = legendRows(procItems, plotW) * LEGEND_ROW_H
  const legendH2 = legendRows(sysItems, plotW) * LEGEND_ROW_H
  const fixed = M.top + 26 + legendH1 + 14 + 26 + legendH2 + 16
  const height = Math.max(o.height, fixed + 2 * 140)
  const panelsH = height - fixed
  const top: Box = { x: M.left, y: M.top, w: plotW, h: Math.round(panelsH * 0.55) }
  const bottom: Box = { x: M.left, y: top.y + top.h + 26 + legendH1 + 14, w: plotW, h: panelsH - top.h }

  const span = Math.max(trace.endMs - trace.startMs, 1000)
  const x = scaleLinear().domain([trace.startMs, trace.startMs + span]).range([top.x, top.x + top.w])
  const ticks = timeTicks(trace.startMs, trace.startMs + span, o.zone, Math.max(3, Math.floor(plotW / 110)))

  const parts: string[] = []
  parts.push(el('rect', { width: o.width, height, fill: th.background }))
  parts.push(header(trace, o, span, th))
  parts.push(procPanel(trace, top, x, ticks, overlaps, plotW, th))
  parts.push(drawLegend(procItems, top.x, top.y + top.h + 24, plotW, 'legend legend-processes', th.text))
  parts.push(systemPanel(trace, bottom, x, ticks, lows, o, sysNames, plotW, th))
  parts.push(drawLegend(sysItems, bottom.x, bottom.y + bottom.h + 24, plotW, 'legend legend-system', th.text))
  parts.push(markers(trace, x, top, bottom, th))
  parts.push(findingMarks(o.findings ?? [], x, bottom))

  const title = titleText(trace, o, span)
  const desc = describe(trace, o, overlaps, lows)
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${o.width} ${height}" width="${o.width}" height="${height}" ` +
    `font-family="-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif">\n` +
    `<title>${esc(title)}</title>\n<desc>${esc(desc)}</desc>\n${parts.join('\n')}\n</svg>\n`
  )
}

/** Many restarts make many servers: past three of a role, one legend entry stands for them. */
function processLegend(trace: Trace, th: Theme): LegendItem[] {
  const items: LegendItem[] = []
  const grouped = new Set<string>()
  for (const role of ['server', 'discovery']) {
    if (trace.procs.filter(s => s.role === role).length > 3) grouped.add(role)
  }
  const done = new Set<string>()
  trace.procs.forEach((s, i) => {
    if (!grouped.has(s.role)) items.push({ label: processLabel(s), color: colorOf(s.role, i, th) })
    else if (!done.has(s.role)) {
      done.add(s.role)
      const n = trace.procs.filter(p => p.role === s.role).length
      items.push({ label: `${s.role} · ${n} processes`, color: colorOf(s.role, i, th) })
    }
  })
  return items
}

function colorOf(role: string, i: number, th: Theme): string {
  if (role === 'server') return th.server
  if (role === 'discovery') return th.discovery
  return PROCESS_COLORS[i % PROCESS_COLORS.length] as string
}

function styleOf(name: string): { color: string; dash?: string } {
  const s = SERIES_STYLE[name.split(':')[0] as string]
  if (!s) return { color: '#555555' }
  return s.dash ? { color: s.color, dash: s.dash } : { color: s.color }
}

function seriesLabel(name: string, platform: string): string {
  const [kind, gpu] = name.split(':')
  if (kind === 'gpu-used') return `GPU ${gpu} used`
  if (kind === 'gpu-total') return `GPU ${gpu} total`
  if (kind === 'free-pct') return `${platform === 'linux' ? 'available' : 'free'} % (right axis)`
  return SERIES_STYLE[kind as string]?.label ?? name
}

function titleText(trace: Trace, o: ChartOptions, span: number): string {
  const host = trace.sys.memTotalBytes ? `${(trace.sys.memTotalBytes / GIB).toFixed(1)} GiB host` : 'host memory unknown'
  const from = wallClock(trace.startMs, o.zone, { date: true })
  const to = wallClock(trace.endMs, o.zone, { date: span > 20 * 3600_000 })
  return `Ollama memory · ${host} · ${from} – ${to} ${o.zone} (${formatDuration(span)})`
}

function header(trace: Trace, o: ChartOptions, span: number, th: Theme): string {
  const off = offsetName(zoneOffsetMs(trace.startMs, o.zone))
  const sub = `process trace: ${clip(o.procFile, 60)} · system trace: ${clip(o.sysFile, 60)} · times in ${o.zone} (${off})`
  return el(
    'g',
    { class: 'header' },
    text({ x: M.left, y: 30, 'font-size': 17, 'font-weight': 600, fill: th.title }, titleText(trace, o, span)),
    text({ x: M.left, y: 50, 'font-size': 11.5, fill: th.muted }, sub),
  )
}

function pathOf(points: Pt[]): string {
  return (
    d3line<Pt>()
      .defined(p => p !== null)
      .x(p => (p as readonly [number, number])[0])
      .y(p => (p as readonly [number, number])[1])
      .digits(1)(points) ?? ''
  )
}

function band(cls: string, iv: Interval, x: (t: number) => number, box: Box, fill: string): string {
  const x0 = Math.max(box.x, x(iv.startMs))
  const x1 = Math.min(box.x + box.w, Math.max(x(iv.endMs), x0 + 2))
  return el('rect', {
    class: cls,
    'data-start': formatTs(iv.startMs),
    'data-end': formatTs(iv.endMs),
    x: x0,
    y: box.y,
    width: Math.max(2, x1 - x0),
    height: box.h,
    fill,
    'fill-opacity': 0.22,
  })
}

function procPanel(trace: Trace, box: Box, x: (t: number) => number, ticks: { ms: number; label: string }[], overlaps: Interval[], plotW: number, th: Theme): string {
  const maxKb = Math.max(1, ...trace.procs.map(s => s.peakRssKb))
  const y = scaleLinear().domain([0, (maxKb * 1024) / GIB]).nice().range([box.y + box.h, box.y])
  const gap = GAP_FACTOR * procPeriod(trace)
  const parts = [
    el('rect', { class: 'panel', 'data-panel': 'processes', x: box.x, y: box.y, width: box.w, height: box.h, fill: th.panel, stroke: th.frame }),
    valueAxis(y, box, 'left', v => `${+v.toFixed(2)}`, 'RSS (GiB)', th),
    timeAxis(ticks, x, box, true, th),
    ...overlaps.map(iv => band('runner-overlap', iv, x, box, '#f5a623')),
  ]
  trace.procs.forEach((s, i) => {
    const pts = toPixels(s.tsMs, s.rssKb, x, kb => y((kb * 1024) / GIB), gap, plotW)
    parts.push(
      el('path', {
        class: 'rss-line',
        'data-pid': s.pid,
        'data-role': s.role,
        'data-model': s.model,
        d: pathOf(pts),
        fill: 'none',
        stroke: colorOf(s.role, i, th),
        'stroke-width': s.role === 'runner' ? 2 : 1.5,
        'stroke-linejoin': 'round',
        'stroke-linecap': 'round', // a process seen once still shows as a dot
      }),
    )
  })
  if (trace.procs.length === 0) {
    parts.push(text({ x: box.x + box.w / 2, y: box.y + box.h / 2, 'text-anchor': 'middle', 'font-size': 13, fill: th.muted }, 'no Ollama processes in the process trace'))
  }
  parts.push(text({ x: box.x, y: box.y - 8, 'font-size': 12.5, 'font-weight': 600, fill: th.heading }, 'Ollama processes: resident memory (RSS)'))
  return el('g', { class: 'panel-processes' }, ...parts)
}

function systemPanel(
  trace: Trace,
  box: Box,
  x: (t: number) => number,
  ticks: { ms: number; label: string }[],
  lows: Interval[],
  o: ChartOptions,
  names: string[],
  plotW: number,
  th: Theme,
): string {
  const { tsMs, fields } = trace.sys
  let max = trace.sys.memTotalBytes ?? 0
  for (const n of names) if (n !== 'free-pct') for (const v of fields.get(n) ?? []) if (v > max) max = v
  const y = scaleLinear().domain([0, Math.max(max / GIB, 1)]).nice().range([box.y + box.h, box.y])
  const yPct = scaleLinear().domain([0, 100]).range([box.y + box.h, box.y])
  const gap = GAP_FACTOR * sysPeriod(trace)
  const parts = [
    el('rect', { class: 'panel', 'data-panel': 'system', x: box.x, y: box.y, width: box.w, height: box.h, fill: th.panel, stroke: th.frame }),
    valueAxis(y, box, 'left', v => `${+v.toFixed(1)}`, 'GiB', th),
    valueAxis(yPct, box, 'right', v => `${v}%`, trace.sys.platform === 'linux' ? 'available %' : 'free %', th),
    timeAxis(ticks, x, box, true, th),
    ...lows.map(iv => band('low-free-band', iv, x, box, '#e0302b')),
    el('line', { class: 'threshold', x1: box.x, x2: box.x + box.w, y1: yPct(o.lowFreePct), y2: yPct(o.lowFreePct), stroke: '#e0302b', 'stroke-dasharray': '2 4', 'stroke-width': 1 }),
  ]
  for (const n of names) {
    const vals = fields.get(n) as number[]
    const pct = n === 'free-pct'
    const pts = toPixels(tsMs, vals, x, pct ? v => yPct(v) : v => y(v / GIB), gap, plotW)
    const [kind, gpu] = n.split(':')
    const st = styleOf(n)
    parts.push(
      el('path', {
        class: 'sys-series',
        'data-series': kind,
        'data-gpu': gpu,
        d: pathOf(pts),
        fill: 'none',
        stroke: st.color,
        'stroke-width': pct ? 1.5 : 2,
        'stroke-dasharray': st.dash,
        'stroke-linejoin': 'round',
      }),
    )
  }
  if (tsMs.length === 0) {
    parts.push(text({ x: box.x + box.w / 2, y: box.y + box.h / 2, 'text-anchor': 'middle', 'font-size': 13, fill: th.muted }, 'no system samples'))
  }
  parts.push(text({ x: box.x, y: box.y - 8, 'font-size': 12.5, 'font-weight': 600, fill: th.heading }, 'System memory'))
  return el('g', { class: 'panel-system' }, ...parts)
}

function markers(trace: Trace, x: (t: number) => number, top: Box, bottom: Box, th: Theme): string {
  const parts = trace.events
    .filter(e => e.kind === 'marker')
    .map(e => {
      const px = x(Date.parse(e.ts))
      const label = clip(e.text ?? '', 48)
      return el(
        'g',
        { class: 'marker', 'data-ts': e.ts },
        el('line', { x1: px, x2: px, y1: top.y, y2: bottom.y + bottom.h, stroke: th.marker, 'stroke-dasharray': '4 3', 'stroke-width': 1 }),
        text({ x: px + 3, y: top.y + 12, 'font-size': 11, fill: th.heading }, label),
      )
    })
  return el('g', { class: 'markers' }, ...parts)
}

function describe(trace: Trace, o: ChartOptions, overlaps: Interval[], lows: Interval[]): string {
  const runners = trace.procs.filter(s => s.role === 'runner')
  const lines = [
    `Two-panel memory chart made by memtrace from ${o.procFile} and ${o.sysFile}.`,
    `${trace.procs.length} processes (${runners.length} model runners${runners.length ? `: ${[...new Set(runners.map(r => r.model))].join(', ')}` : ''}), ${trace.sys.tsMs.length} system samples (${trace.sys.platform}).`,
    `${lows.length} interval(s) with free memory under ${o.lowFreePct}%; ${overlaps.length} interval(s) with two or more runners alive.`,
    ...(o.notes ?? []),
  ]
  return lines.join('\n')
}

const FINDING_COLORS: Record<string, string> = {
  'runner-overlap': '#f5a623',
  'low-free': '#e0302b',
  'wired-jump': '#7b3294',
  'pressure-after-low-free': '#c51b7d',
  'not-given-back': '#b35806',
  'claim-vs-measured': '#2c7bb6',
  gap: '#888888',
  'server-unanswered': '#888888',
  'daemon-restart': '#888888',
}

/**
 * Every finding's interval, as a short bar along the top edge of the system
 * panel, one row per kind; hovering shows its sentence.
 */
function findingMarks(findings: Finding[], x: (t: number) => number, box: Box): string {
  const kinds = [...new Set(findings.map(f => f.kind))]
  const parts = findings.map(f => {
    const s = Date.parse(f.start)
    const e = f.end ? Date.parse(f.end) : s
    const x0 = Math.max(box.x, Math.min(box.x + box.w, x(s)))
    const x1 = Math.max(box.x, Math.min(box.x + box.w, x(e)))
    const row = kinds.indexOf(f.kind)
    return el(
      'g',
      { class: 'finding', 'data-kind': f.kind, 'data-start': f.start, 'data-end': f.end ?? f.start },
      `<title>${esc(f.text)}</title>`,
      el('rect', { x: Math.min(x0, box.x + box.w - 4), y: box.y + 2 + row * 5, width: Math.max(4, x1 - x0), height: 4, fill: FINDING_COLORS[f.kind] ?? '#888888' }),
    )
  })
  return el('g', { class: 'findings' }, ...parts)
}
