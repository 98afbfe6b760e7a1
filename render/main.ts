/** `memtrace render`: load the traces, find what happened, draw it, and write every output or none. */
import { homedir } from 'node:os'
import { basename } from 'node:path'
import { InputError, UsageError } from '../core/errors.js'
import { jsonLine, oneLine } from '../core/safe-text.js'
import { gib } from '../core/units.js'
import type { RenderArgs } from './args.js'
import { renderChartBytes } from './chart/render-chart.js'
import { findingsIn, makeCtx, orphanIntervals, runnerRecords, serverMarks } from './findings/findings.js'
import { reportMarkdown } from './findings/report.js'
import { loadTrace } from './load.js'
import { pngBeside, toPng, writeAll } from './outputs.js'
import { readServerLog } from './server-log.js'
import { youngGenerationCeiling } from './young-generation.js'
import { compileForAShortRun } from './short-run.js'
import { ProblemLog } from '../core/parse/problems.js'
import type { ServerEvent } from '../schemas/index.js'

/** What `memtrace plan` predicts a runner of MODEL[:CTX:NP] holds, from the model's GGUF header on this machine. */
async function planLevel(spec: string): Promise<{ label: string; bytes: number }> {
  const { parsePlanSpec, runnerBytes } = await import('../core/plan.js')
  const { findModel, modelDirs, readFacts } = await import('../core/model-files.js')
  const p = parsePlanSpec(spec)
  if (!p) throw new UsageError('--plan wants MODEL or MODEL:CTX:NP, e.g. qwen2.5-coder:7b:32768:4')
  const found = findModel(modelDirs(), p.model)
  if (!found) throw new InputError(`--plan: no manifest for ${oneLine(p.model)} in ${modelDirs().join(', ')}`)
  const facts = await readFacts(found.blob)
  if (typeof facts === 'string') throw new InputError(`--plan: ${oneLine(p.model)}: ${facts}`)
  const bytes = runnerBytes(facts, found.sizeBytes, { numCtx: p.numCtx, numParallel: p.numParallel, kvType: 'f16', flashAttention: true })
  return { label: `plan: ${p.model} at ${p.numCtx} × ${p.numParallel} slot${p.numParallel > 1 ? 's' : ''}, ${gib(bytes)}`, bytes }
}

const NO_FINDINGS = 'No findings: no runner killed, no low free memory, no overlap while memory was short, no gaps.'

/** Renders and writes atomically: a failed run never leaves a half-written SVG. */
export async function runRender(a: RenderArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (a.watch) {
    const { watchAndRender } = await import('./watch.js')
    const silent = { write: () => true } as unknown as NodeJS.WritableStream
    return watchAndRender(a, async b => void (await renderOnce({ ...b, quiet: true }, silent, silent)), out, err)
  }
  // One render, over in a second or so (a watch lives on and keeps V8's defaults).
  compileForAShortRun()
  return renderOnce(a, out, err)
}

async function renderOnce(a: RenderArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (!a.prometheus) return renderTraces(a, out, err)
  const { shownUrl, traceFromPrometheus } = await import('./prometheus.js')
  const from = await traceFromPrometheus(a.prometheus)
  try {
    return await renderTraces({ ...a, procPath: from.procPath, sysPath: from.sysPath }, out, err, { notes: from.notes, source: `Prometheus ${shownUrl(a.prometheus.url)} · instance ${a.prometheus.instance} · every ${from.stepS} s` })
  } finally {
    from.cleanup()
  }
}

async function renderTraces(a: RenderArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream, from?: { notes: string[]; source: string }): Promise<number> {
  const { trace, problems, procRows, sysBlocks, procsBefore } = await loadTrace(a.procPath, a.sysPath, undefined, undefined, youngGenerationCeiling(), a.pids)
  const notes: string[] = [...(from?.notes ?? [])]
  if (a.pids && procsBefore !== undefined && trace.procs.length < procsBefore) notes.push(`Drawn: the processes of PID ${a.pids.join(', ')} and their descendants (${trace.procs.length} of the ${procsBefore} traced).`)
  if (problems.total > 0) notes.push(`Skipped as damaged: ${problems.total} line(s); see memtrace's stderr for where.`)
  if (trace.placeholders > 0) notes.push(`Left out ${trace.placeholders} "(ollama)" placeholder rows.`)
  if (trace.hiddenArgs > 0) notes.push(`${trace.hiddenArgs} Ollama process(es) drawn by name only: ps could not read their arguments (they run as another user, such as root); runners are named by what /api/ps listed. \`sudo memtrace start\` reads them.`)
  // The daemon's word that Ollama probably ran on Windows, outside what a WSL2 trace can see.
  const wsl = trace.events.find(e => e.kind === 'source-error' && e.source === 'wsl')
  if (wsl?.message) notes.push(`Recorded under WSL2: ${wsl.message.slice(0, 400)}.`)
  // The server's own log says why: read before the findings, which tie its lines to the runners.
  const server = a.serverLogPath ? await serverEvents(a.serverLogPath, err, trace) : undefined
  const findingOptions = { zone: a.zone, lowFreePct: a.lowFreePct, ...(server ? { server: server.events } : {}) }
  const ctx = makeCtx(trace, findingOptions)
  const findings = findingsIn(ctx)
  notes.push(...(findings.length ? ['What happened:', ...findings.map(f => `${f.n}. ${f.text}`)] : [NO_FINDINGS]))
  const svg = renderChartBytes(trace, {
    width: a.width,
    height: a.height,
    zone: a.zone,
    lowFreePct: a.lowFreePct,
    procFile: basename(a.procPath),
    sysFile: basename(a.sysPath),
    ...(from ? { source: from.source } : {}),
    notes,
    theme: a.theme ?? 'light',
    findings,
    serverMarks: serverMarks(ctx),
    orphans: orphanIntervals(ctx),
    ...(a.plan !== undefined ? { plan: await planLevel(a.plan) } : {}),
  })
  // An output ending in .png gets a picture, for chats and trackers that refuse SVG.
  const isPng = a.outPath.toLowerCase().endsWith('.png')
  const outputs: [string, string | Buffer | Buffer[]][] = [[a.outPath, isPng ? await toPng(Buffer.concat(svg), a.scale ?? 2) : svg]]
  if (a.reportPath) {
    // The report is for an issue, and issues take a PNG: an SVG chart gets one beside it.
    const pngPath = pngBeside(a.outPath)
    if (!isPng) outputs.push([pngPath, await toPng(Buffer.concat(svg), a.scale ?? 2)])
    const md = reportMarkdown(trace, findings, {
      zone: a.zone,
      lowFreePct: a.lowFreePct,
      chartName: basename(pngPath),
      procFile: a.procPath,
      sysFile: a.sysPath,
      command: ['memtrace', 'render', ...(a.argv ?? [])],
      home: homedir(),
      ...(server ? { server } : {}),
    })
    outputs.push([a.reportPath, md])
  }
  await writeAll(outputs)
  for (const line of problems.summary()) err.write(`memtrace render: skipped ${oneLine(line)}\n`)
  if (procRows === 0) err.write(`memtrace render: ${basename(a.procPath)} has no process samples; drew the system panel only\n`)
  if (a.json) {
    for (const f of findings) out.write(`${jsonLine(f)}\n`)
    for (const r of runnerRecords(ctx)) out.write(`${jsonLine(r)}\n`)
  } else if (!a.quiet) {
    const runners = trace.procs.filter(p => p.role === 'runner').length
    out.write(
      `wrote ${a.outPath}: ${trace.procs.length} processes, ${runners} runners, ${sysBlocks} system samples\n`,
    )
    for (const [path] of outputs.slice(1)) out.write(`wrote ${path}\n`)
    for (const n of from?.notes ?? []) out.write(`${n}\n`)
    out.write(findings.length ? `\nWhat happened (times in ${a.zone}), most important first:\n${findings.map(f => `${f.n}. ${f.text}`).join('\n')}\n` : `\n${NO_FINDINGS}\n`)
  }
  return 0
}

/** Most server-log events of each class (figures, decisions) a render holds: the report shows a few hundred at most. */
const MAX_SERVER_EVENTS = 20_000

/** The kinds that carry figures; the others are decisions and runners' lives. */
const FIGURE_KINDS = new Set<ServerEvent['kind']>(['system-memory', 'gpu-memory', 'inference-compute', 'estimate', 'load-request', 'allocation', 'offloaded', 'device-free', 'peak-memory', 'working-set'])

/** A line of the server's log this long before or after the trace is another day's: read past. */
const SERVER_WINDOW_MS = 60 * 60_000

/**
 * The server's log for the findings, the chart and the report: its events
 * within an hour of the trace (a journal of weeks holds other days), and
 * those with no time of their own; at most MAX_SERVER_EVENTS, and a line on
 * stderr when more were left out. What could not be read is said on stderr.
 */
async function serverEvents(path: string, err: NodeJS.WritableStream, span: { startMs: number; endMs: number }): Promise<{ file: string; events: ServerEvent[] }> {
  const problems = new ProblemLog()
  const events: ServerEvent[] = []
  let past = 0
  // Decisions and runners' lives have a budget of their own: a flood of figures never crowds them out.
  const kept = [0, 0]
  await readServerLog(path, problems, e => {
    const ms = e.ts === undefined ? undefined : Date.parse(e.ts)
    if (ms !== undefined && (ms < span.startMs - SERVER_WINDOW_MS || ms > span.endMs + SERVER_WINDOW_MS)) return
    const cls = FIGURE_KINDS.has(e.kind) ? 0 : 1
    if ((kept[cls] as number) < MAX_SERVER_EVENTS) {
      kept[cls]!++
      events.push(e)
    } else past++
  })
  for (const line of problems.summary()) err.write(`memtrace render: skipped ${oneLine(line)}\n`)
  if (past > 0) err.write(`memtrace render: ${basename(path)}: read the first ${MAX_SERVER_EVENTS} figure lines (and decisions) near the trace and left out ${past} more; memtrace parse --server-log prints them all\n`)
  return { file: path, events }
}
