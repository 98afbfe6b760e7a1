import { scaleLinear } from 'd3-scale'
import type { Finding } from '../../schemas/index.js'
import type { Trace } from '../../core/model/trace.js'
import { type Interval, lowFreeIntervals, runnerOverlaps } from '../../core/model/intervals.js'
import type { Box } from './axes.js'
import { badgeStrip } from './badges.js'
import { ByteSink } from './byte-sink.js'
import { type BandKind, drawBands } from './bands.js'
import { clearOfLines, directLabels } from './direct-labels.js'
import { fastLinear } from './linear.js'
import { findingsBlock } from './findings-block.js'
import { describe, header, titleText } from './header.js'
import { drawLegend, LEGEND_ROW_H, legendLayout } from './legend.js'
import { type DecisionMark, drawMarkers } from './markers.js'
import { GIB, PLAN_DASH, procPanel } from './proc-panel.js'
import { processLegend, procStyles } from './proc-style.js'
import { Occupied } from './rects.js'
import { THEMES } from './style.js'
import { el, esc, text } from '../../core/svg.js'
import { textWidth, wrapText } from './text-width.js'
import { timeTicks } from './time-axis.js'
import { systemLegend, systemPanel, systemSeries } from './system-panel.js'

export interface ChartOptions {
  width: number
  /** The height of the panels and legends; the canvas grows for the findings and marker lists. */
  height: number
  /** IANA zone the time labels are read in. */
  zone: string
  lowFreePct: number
  /** Names of the two inputs, shown in the subtitle (basenames). */
  procFile: string
  sysFile: string
  /** Where the traces came from, when not files (Prometheus). */
  source?: string
  /** Extra lines for the <desc> (problems skipped, findings). */
  notes?: string[]
  theme?: 'light' | 'dark'
  /** Numbered, most important first: badges over the panels, sentences below them. */
  findings?: Finding[]
  /** What `memtrace plan` predicts a runner holds, drawn as a dashed level on the RSS panel. */
  plan?: { label: string; bytes: number }
  /** The server's decisions from its log, drawn as marks on the time axis. */
  serverMarks?: DecisionMark[]
  /** Runners alive while their server no longer listed them: a band over each in the process panel. */
  orphans?: readonly Interval[]
}

const M = { left: 78, right: 78 }
/** An orphan's band: a faint tint in the badges' colour, neutral in both themes. */
const ORPHAN_OPACITY = 0.06
const HEADING = 12.5
const LIST_FONT = 11.5

/**
 * At least five time ticks, however narrow the chart: d3's steps jump from
 * 1 to 5 minutes, so take the finer step and keep every k-th tick, with k
 * the smallest that leaves the labels apart.
 */
function ticksFor(startMs: number, endMs: number, zone: string, plotW: number) {
  let count = Math.max(5, Math.floor(plotW / 110))
  let ticks = timeTicks(startMs, endMs, zone, count)
  while (ticks.length < 5 && count < 40) ticks = timeTicks(startMs, endMs, zone, (count += 2))
  if (ticks.length < 2) return ticks
  const pxPerTick = (((ticks[1] as { ms: number }).ms - (ticks[0] as { ms: number }).ms) / (endMs - startMs)) * plotW
  const widest = Math.max(...ticks.map(t => textWidth(t.label, 11)))
  const k = Math.max(1, Math.ceil((widest + 12) / pxPerTick))
  return ticks.filter((_, i) => i % k === 0)
}

/** The whole chart as SVG text. Pure: same trace and options, same bytes. */
export function renderChart(trace: Trace, o: ChartOptions): string {
  return chartBytes(trace, o).text()
}

/**
 * The same chart as the UTF-8 bytes of that text, in chunks to be written
 * one after another: the text whole is never made, nor one buffer of it.
 * One character beyond Latin-1 (a dash in a finding) makes a whole joined
 * text two bytes a character, and writing it made its UTF-8 copy besides:
 * for a chart of thousands of processes, tens of MB for an instant.
 */
export function renderChartBytes(trace: Trace, o: ChartOptions): Buffer[] {
  return chartBytes(trace, o).chunks()
}

function chartBytes(trace: Trace, o: ChartOptions): ByteSink {
  const out = new ByteSink()
  chartLines(trace, o).forEach((l, i) => {
    if (i > 0) out.char(0x0a)
    if (typeof l === 'string') out.add(l)
    else out.append(l)
  })
  return out
}

/** The chart's text, line by line (each joined to the next by a newline); the process panel's as bytes. */
function chartLines(trace: Trace, o: ChartOptions): (string | ByteSink)[] {
  const th = THEMES[o.theme ?? 'light']
  const plotW = o.width - M.left - M.right
  const overlaps = runnerOverlaps(trace)
  const lows = lowFreeIntervals(trace, o.lowFreePct)
  const styles = procStyles(trace, th)
  const procItems = processLegend(trace, styles)
  if (overlaps.length > 0) procItems.push({ label: 'two or more runners alive', color: th.overlap, swatch: th.overlapOpacity })
  const orphans = o.orphans ?? []
  if (orphans.length > 0) procItems.push({ label: 'orphan runner (alive, no longer listed)', color: th.badge, swatch: ORPHAN_OPACITY })
  const planGiB = o.plan ? o.plan.bytes / GIB : undefined
  if (o.plan) procItems.push({ label: o.plan.label, color: th.text, dash: PLAN_DASH })
  if (o.serverMarks?.length) procItems.push({ label: "Ollama's decisions (its log) and OOM kills", color: th.decision, dash: '1.5 2.5' })
  const { names, noSwap } = systemSeries(trace)
  const sysItems = systemLegend(trace, names, noSwap, lows.length > 0, o.lowFreePct, th)

  // The axis spans at least ten seconds, so a trace of one sample still gets distinct ticks.
  const span = Math.max(trace.endMs - trace.startMs, 0)
  const axisSpan = Math.max(span, 10_000)
  const x = fastLinear(scaleLinear().domain([trace.startMs, trace.startMs + axisSpan]).range([M.left, M.left + plotW]))
  const ticks = ticksFor(trace.startMs, trace.startMs + axisSpan, o.zone, plotW)
  const textW = Math.min(o.width - M.left - 16, 1100) // longer lines are hard to follow
  const block = findingsBlock(o.findings, M.left, textW, o.zone, th)

  // Top to bottom: header, panel heading, badge strip, processes, legend, system, legend, lists.
  const head = header(trace, o, span, M.left, th)
  const procHeadY = head.bottom + 28
  const strip = badgeStrip(block.shown, x, { x: M.left, y: 0, w: plotW, h: 0 }, th)
  const topY = procHeadY + 8 + strip.height
  const procLegend = legendLayout(procItems, plotW)
  const sysLegend = legendLayout(sysItems, plotW)
  const legendH1 = procLegend.rows * LEGEND_ROW_H
  const legendH2 = sysLegend.rows * LEGEND_ROW_H
  const between = 28 + legendH1 + 30
  const below = 28 + legendH2 + 8
  const panelsH = Math.max(300, o.height - topY - between - below)
  const top: Box = { x: M.left, y: topY, w: plotW, h: Math.round(panelsH * 0.55) }
  const bottom: Box = { x: M.left, y: top.y + top.h + between, w: plotW, h: panelsH - top.h }

  const overlapKind: BandKind = { cls: 'runner-overlap', color: th.overlap, opacity: th.overlapOpacity, edge: 'top' }
  const lowKind: BandKind = { cls: 'low-free-band', color: th.lowFree, opacity: th.lowFreeOpacity, edge: 'bottom' }
  // The orphan's strip runs under the overlap's, in the badges' colour: the badge above names it.
  const orphanKind: BandKind = { cls: 'orphan-band', color: th.badge, opacity: ORPHAN_OPACITY, edge: 'top', inset: overlaps.length ? 4 : 0 }
  const bandsIn = (b: Box, panel: string) =>
    (['fill', 'edge'] as const)
      .map(part => drawBands(overlaps, overlapKind, x, b, panel, part) + drawBands(lows, lowKind, x, b, panel, part) + (panel === 'processes' ? drawBands(orphans, orphanKind, x, b, panel, part) : ''))
      .join('')

  const taken = new Occupied()
  // No label, a marker's or a runner's, sits on a line: its halo would hide it.
  const clear = clearOfLines(trace, top, x, planGiB)
  let labels = ''
  const marks = drawMarkers(trace, x, top, bottom, o.zone, th, taken, o.serverMarks, clear, () => {
    labels = directLabels(trace, top, x, styles, th, taken, clear, planGiB)
  })

  let y = bottom.y + bottom.h + 28 + legendH2 + 8
  const listParts: string[] = []
  if (marks.list.length > 0) {
    const lines = wrapText(`Markers: ${marks.list.join(' · ')}`, LIST_FONT, textW)
    lines.forEach((l, i) => listParts.push(text({ x: M.left, y: y + 12 + i * 15, 'font-size': LIST_FONT, fill: th.text }, l)))
    y += lines.length * 15 + 8
  }
  const height = Math.ceil(y + block.height + 12)

  const parts = [
    el('rect', { width: o.width, height, fill: th.background }),
    head.svg,
    text({ x: M.left, y: procHeadY, 'font-size': HEADING, 'font-weight': 600, fill: th.heading }, 'Ollama processes: resident memory (RSS)'),
    strip.draw(procHeadY + 6),
    procPanel(trace, top, x, ticks, bandsIn(top, 'processes'), styles, th, planGiB),
    drawLegend(procLegend, top.x, top.y + top.h + 28, 'legend legend-processes', th.text),
    text({ x: M.left, y: bottom.y - 8, 'font-size': HEADING, 'font-weight': 600, fill: th.heading }, 'System memory'),
    systemPanel({ trace, box: bottom, x, ticks, bands: bandsIn(bottom, 'system'), names, lowFreePct: o.lowFreePct, th }),
    drawLegend(sysLegend, bottom.x, bottom.y + bottom.h + 28, 'legend legend-system', th.text),
    marks.svg,
    labels,
    el('g', { class: 'marker-list' }, ...listParts),
    block.draw(y),
  ]
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${o.width} ${height}" width="${o.width}" height="${height}" ` +
      `font-family="-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<title>${esc(titleText(trace, o, span))}</title>`,
    `<desc>${esc(describe(trace, o, overlaps, lows))}</desc>`,
    ...parts,
    '</svg>',
    '',
  ]
}


