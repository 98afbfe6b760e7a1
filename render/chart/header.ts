/** The title, subtitle and the plain-text summary in `<desc>`. */
import type { Trace } from '../../core/model/trace.js'
import type { Interval } from '../../core/model/intervals.js'
import type { Theme } from './style.js'
import { gib } from '../../core/units.js'
import { clip, el, text } from '../../core/svg.js'
import { BOLD, wrapText } from './text-width.js'
import { formatDuration, offsetName, wallClock, zoneOffsetMs } from './time-axis.js'

const TITLE = 17
const SUB = 11.5

export interface HeaderOptions {
  width: number
  zone: string
  procFile: string
  sysFile: string
  /** Where the traces came from, when not files (Prometheus): replaces the file names. */
  source?: string
  notes?: string[]
  lowFreePct: number
}

/** `Ollama memory · 32.0 GiB host · 2026-02-25 14:03 – 14:17 UTC (14 min 59 s)`: the zone is always named. */
export function titleText(trace: Trace, o: HeaderOptions, span: number): string {
  const host = trace.sys.memTotalBytes ? `${gib(trace.sys.memTotalBytes)} host` : 'host memory unknown'
  // Within one minute the minutes alone read `14:42 – 14:42`: the seconds then.
  const seconds = wallClock(trace.startMs, o.zone) === wallClock(trace.endMs, o.zone) && trace.endMs !== trace.startMs
  const from = wallClock(trace.startMs, o.zone, { date: true, seconds })
  const day = (ms: number) => wallClock(ms, o.zone, { date: true }).slice(0, 10)
  const to = wallClock(trace.endMs, o.zone, { date: day(trace.endMs) !== day(trace.startMs), seconds })
  return `Ollama memory · ${host} · ${from} – ${to} ${o.zone} (${formatDuration(span)})`
}

/** Title and subtitle, wrapped to the width; `bottom` is the last baseline. */
export function header(trace: Trace, o: HeaderOptions, span: number, x0: number, th: Theme): { svg: string; bottom: number } {
  const maxW = o.width - x0 - 12
  const off = offsetName(zoneOffsetMs(trace.startMs, o.zone))
  const sub = `${o.source ? clip(o.source, 140) : `process trace: ${clip(o.procFile, 60)} · system trace: ${clip(o.sysFile, 60)}`} · times in ${o.zone} (${off})`
  const parts: string[] = []
  let y = 28
  for (const l of wrapText(titleText(trace, o, span), TITLE, maxW, BOLD)) {
    parts.push(text({ x: x0, y, 'font-size': TITLE, 'font-weight': 600, fill: th.title }, l))
    y += 22
  }
  y -= 2
  for (const l of wrapText(sub, SUB, maxW)) {
    parts.push(text({ x: x0, y, 'font-size': SUB, fill: th.muted }, l))
    y += 15
  }
  return { svg: el('g', { class: 'header' }, ...parts), bottom: y - 15 }
}

export function describe(trace: Trace, o: HeaderOptions, overlaps: readonly Interval[], lows: readonly Interval[]): string {
  const runners = trace.procs.filter(s => s.role === 'runner')
  const lines = [
    `Two-panel memory chart made by memtrace from ${o.source ?? `${o.procFile} and ${o.sysFile}`}.`,
    `${trace.procs.length} processes (${runners.length} model runners${runners.length ? `: ${[...new Set(runners.map(r => r.model))].join(', ')}` : ''}), ${trace.sys.tsMs.length} system samples (${trace.sys.platform}).`,
    `${lows.length} interval(s) with free memory under ${o.lowFreePct}%; ${overlaps.length} interval(s) with two or more runners alive.`,
    ...(o.notes ?? []),
  ]
  return lines.join('\n')
}
