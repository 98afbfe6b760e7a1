/** The Markdown report, made to paste into a GitHub issue unchanged. Pure. */
import type { Finding, ServerEvent } from '../../schemas/index.js'
import type { ProcSeries, Trace } from '../../core/model/trace.js'
import { wallClock } from '../chart/time-axis.js'
import { formatDuration } from '../../core/parse/time.js'
import { type Claim, claims, whereText } from './claim.js'
import { isUnified } from './unified.js'
import { type Ctx, firstMs, gib, lastMs, makeCtx, peakRss } from './context.js'
import { LOW_FREE_RULE } from './low-free.js'
import { codeText, markdownText } from '../../core/safe-text.js'
import { reportedEvents, serverLine, serverSummary } from './server-lines.js'
import { runnerMemory } from './runner-memory.js'
import { overlapFindings } from './overlap.js'
import { severityOf } from './severity.js'

export interface ReportOptions {
  zone: string
  lowFreePct: number
  /** The chart's file name (a PNG to drag into the issue). */
  chartName: string
  procFile: string
  sysFile: string
  /** How it was made, as typed: paths in it are cut to file names. */
  command: string[]
  /** The user's home directory, never to appear in the text. */
  home?: string
  /** The server's own log: its file and the memory lines read from it. */
  server?: { file: string; events: ServerEvent[] }
}

/** GitHub's limit on a comment, with room to spare for the user's own words. */
export const REPORT_MAX_CHARS = 60_000
/** Tables longer than this fold into a <details>. */
const FOLD_ROWS = 10

/** Trace text in Markdown: one line, nothing GitHub would turn into HTML, a link, a mention or a table break. */
const cell = markdownText
/** A file name only: no directory of this machine goes into an issue. */
const fileName = (p: string) => p.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? p
/** A name inside an HTML comment: nothing that could end the comment or open a tag. */
const commentText = (s: string) => codeText(s).replace(/[<>]/g, '').replace(/-{2,}/g, '-')

export function reportMarkdown(trace: Trace, findings: Finding[], o: ReportOptions): string {
  const at = (ms: number) => wallClock(ms, o.zone, { date: true, seconds: true })
  // One context for the report's overlaps and its runner table: the server's log is grouped and tied once.
  const ctx = makeCtx(trace, { zone: o.zone, lowFreePct: o.lowFreePct, ...(o.server ? { server: o.server.events } : {}) })
  const head: string[] = ['## Memory trace (memtrace)', '']
  // No image link: a file name cannot resolve in an issue, and pasted as it is
  // it would show a broken image. A comment says what to drag where, and shows
  // nothing once posted, dragged or not.
  head.push(`<!-- Put the cursor on this line and drag ${commentText(fileName(o.chartName))} into the comment box: GitHub uploads the chart and writes its image link here. -->`, '')
  const host = trace.sys.memTotalBytes ? gib(trace.sys.memTotalBytes) : 'unknown'
  head.push(`- Host memory: ${host} (${trace.sys.platform === 'macos' ? 'macOS' : trace.sys.platform === 'linux' ? 'Linux' : trace.sys.platform === 'windows' ? 'Windows' : 'platform unknown'})`)
  const to = at(trace.endMs)
  const from = at(trace.startMs)
  head.push(`- Traced: ${from} – ${to.slice(0, 10) === from.slice(0, 10) ? to.slice(11) : to} ${o.zone} (${formatDuration(trace.endMs - trace.startMs)})`)
  const serverFile = o.server ? `, \`${codeText(fileName(o.server.file))}\`` : ''
  head.push(`- Traces: \`${codeText(fileName(o.procFile))}\`, \`${codeText(fileName(o.sysFile))}\`${serverFile}`)
  const summary = o.server ? serverSummary(o.server.events) : undefined
  if (summary) head.push(`- Server: ${cell(summary)}`)
  head.push('')
  head.push('### What happened', '')
  if (findings.length === 0) head.push('Nothing harmful: no runner killed, no low free memory, no runners alive together while memory was short, no gaps.')
  const what = findings.map(f => `${f.n}. ${cell(f.text)}`)
  const calm = ampleOverlaps(ctx)
  if (calm.length) what.push('', `Runners alive together while memory stayed ample (no harm, so no finding; the chart still draws the band): ${cell(calm.join(' '))}`)
  const notes = ['', `Numbers match the badges on the chart. Times are in ${o.zone}; sizes are GiB (1 GiB = 1.074 GB).`]
  if (findings.some(f => f.kind === 'low-free')) notes.push(`Low free memory: ${trace.sys.platform === 'linux' ? 'available memory (MemAvailable / MemTotal)' : trace.sys.platform === 'windows' ? 'available physical memory / total physical memory' : "memory_pressure's free %"} under ${o.lowFreePct}%. ${LOW_FREE_RULE}`)
  if (findings.some(f => f.kind === 'claim-vs-measured')) {
    notes.push("RSS and Ollama's figure differ by design: Ollama counts what it allocated, split between GPU and system RAM, and not the page cache of mmapped weights, prompt caches or heap growth.")
  }
  const runners = runnerTable(ctx, o, at)
  const markers = trace.events.filter(e => e.kind === 'marker').map(m => `- ${at(Date.parse(m.ts))}: ${cell(scrub(m.text ?? '', o.home))}`)
  const server = reportedEvents(o.server?.events ?? []).map(e => `- ${cell(scrub(serverLine(e, at), o.home))}`)
  const tail = ['', '### Command', '', '```', codeText(scrub(commandText(o.command), o.home)), '```', '']
  // Findings come first and are cut last: a long trace loses table rows before sentences.
  const compose = (room: number): string[] => {
    const whatKept = fit(what, (room * 2) / 3)
    room -= whatKept.join('\n').length
    const runnersKept = fit(runners.rows, (room * 2) / 3)
    room -= runnersKept.join('\n').length
    const markersKept = fit(markers, (room * 2) / 3)
    room -= markersKept.join('\n').length
    const serverKept = fit(server, room)
    const lines = [...head, ...whatKept, ...cutNote(what, whatKept, 'findings', '`memtrace render --json` prints them all'), ...notes]
    lines.push('', `### Runners (${runners.rows.length})`, '')
    lines.push(...fold(runners.rows.length, [...runners.header, ...runnersKept]), ...cutNote(runners.rows, runnersKept, 'runners', 'the chart shows them all'))
    if (runners.rows.length) lines.push('', "Ollama's figure is the largest `size` it listed while the runner lived, in GiB, with the decimal GB that `ollama ps` prints for it.")
    if (runners.rows.length && o.server) lines.push('', "From the server's log: Ollama's prediction before the load, and what llama.cpp or Ollama's engine allocated (with the GPU's share); the error is the prediction's, against the allocation, else against the peak RSS with the runner's GPU memory.")
    if (markers.length) lines.push('', '### Markers', '', ...fold(markers.length, markersKept), ...cutNote(markers, markersKept, 'markers', 'the trace holds them all'))
    if (server.length) {
      const untimed = reportedEvents(o.server?.events ?? []).filter(e => !e.ts && !e.clock).length
      const times = untimed === server.length ? ' The log gives no times: the lines are in its order, named by their line numbers, and none is placed on the chart.' : untimed ? ` ${untimed} of them have no time in the log: they are named by their line numbers and not placed on the chart.` : ''
      lines.push('', `### The server's memory lines (${server.length})`, '', `From the server's own log: its estimates, decisions and allocations, as memtrace read them (never the lines themselves).${times}`, '')
      lines.push('<details><summary>Show them</summary>', '', ...serverKept, '', '</details>', ...cutNote(server, serverKept, 'lines', '`memtrace parse --server-log` prints them all'))
    }
    lines.push(...tail)
    return lines
  }
  let room = REPORT_MAX_CHARS - [...head, ...notes, ...tail].join('\n').length
  let text = scrub(compose(room).join('\n'), o.home)
  // Headings, folds and notes take room too: shrink until it fits.
  while (text.length > REPORT_MAX_CHARS && room > 0) {
    room -= text.length - REPORT_MAX_CHARS + 200
    text = scrub(compose(room).join('\n'), o.home)
  }
  return text
}

/** Overlaps the findings leave out because memory stayed ample: a line in the report, not a headline. */
function ampleOverlaps(ctx: Ctx): string[] {
  return overlapFindings(ctx).filter(d => severityOf(ctx, d) === undefined).map(d => d.text)
}

function runnerTable(ctx: Ctx, o: ReportOptions, at: (ms: number) => string): { header: string[]; rows: string[] } {
  const { trace } = ctx
  const byRunner = new Map<ProcSeries, Claim>(claims(ctx).map(c => [c.runner, c]))
  const records = new Map(runnerMemory(ctx).filter(r => r.pid !== undefined).map(r => [r.pid, r]))
  const unified = isUnified(trace)
  // With the server's log, Ollama's prediction and what was allocated stand beside the measurement.
  const three = o.server !== undefined
  const header = three
    ? ["| model | pid | first seen | last seen | peak RSS | Ollama's figure | predicted | allocated | error |", '|---|---|---|---|---|---|---|---|---|']
    : ["| model | pid | first seen | last seen | peak RSS | Ollama's figure |", '|---|---|---|---|---|---|']
  const rows = ctx.runners.map(s => {
    const c = byRunner.get(s)
    const peak = peakRss(s)
    const claim = c ? `${whereText(c, unified)} (${(c.model.sizeBytes / 1e9).toFixed(1)} GB)` : '–'
    const row = `| ${cell(s.model ?? '?')} | ${s.pid} | ${at(firstMs(s))} | ${at(lastMs(s))} | ${peak ? gib(peak.v) : '–'} | ${cell(claim)} |`
    if (!three) return row
    const r = records.get(s.pid)
    const alloc = r?.allocatedBytes !== undefined ? `${gib(r.allocatedBytes)}${r.allocatedGpuBytes !== undefined ? ` (${gib(r.allocatedGpuBytes)} GPU)` : ''}` : '–'
    const err = r?.errorPct !== undefined ? `${r.errorPct > 0 ? '+' : r.errorPct < 0 ? '−' : ''}${Math.abs(r.errorPct)} % vs ${r.errorAgainst === 'allocated' ? 'allocated' : 'RSS'}` : '–'
    return `${row} ${r?.predictedBytes !== undefined ? gib(r.predictedBytes) : '–'} | ${alloc} | ${err} |`
  })
  return { header, rows }
}

/** Long lists fold, so the issue stays readable; the table header stays with its rows. */
function fold(n: number, lines: string[]): string[] {
  return n > FOLD_ROWS ? ['<details><summary>Show all</summary>', '', ...lines, '', '</details>'] : lines
}

/** As many lines as fit in `chars`, in order. */
function fit(lines: string[], chars: number): string[] {
  let used = 0
  const out: string[] = []
  for (const l of lines) {
    if (used + l.length + 1 > chars) break
    used += l.length + 1
    out.push(l)
  }
  return out
}

function cutNote(all: string[], kept: string[], what: string, where: string): string[] {
  return kept.length < all.length ? ['', `*… and ${all.length - kept.length} more ${what}, cut to stay under GitHub's size limit for a comment: ${where}.*`] : []
}

/** The command as typed, with every path cut to its file name. */
function commandText(argv: string[]): string {
  return argv.map(a => (/[/\\]/.test(a) ? fileName(a) : a)).join(' ')
}

/** Home directories, this machine's or those in a trace from another, never reach an issue. */
function scrub(text: string, home: string | undefined): string {
  const mine = home && home.length > 1 ? text.split(home).join('~') : text
  return mine.replace(/(?:\/home|\/Users)\/[^/\s`|)]+|\/root(?=\/)|[A-Za-z]:\\Users\\[^\\\s`|)]+/g, '~')
}
