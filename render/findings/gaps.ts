/** Holes in sampling, a server that did not answer, the daemon starting again. Pure. */
import { GAP_FACTOR } from '../../core/model/intervals.js'
import { formatDuration } from '../../core/parse/time.js'
import { type Ctx, type Draft, draft, join, some, someOf } from './context.js'

/** More than this many of one kind are one line. */
const MAX_SEPARATE = 2

export function gapFindings(ctx: Ctx): Draft[] {
  return [...holes(ctx), ...skipped(ctx), ...dropped(ctx), ...unanswered(ctx), ...restarts(ctx)]
}

/** Process rows cannot tell "no Ollama process" from "no sample"; system blocks are written every time. */
function holes(ctx: Ctx): Draft[] {
  const ts = ctx.trace.sys.tsMs
  const found: [number, number][] = []
  for (let i = 1; i < ts.length; i++) {
    const a = ts[i - 1] as number
    const b = ts[i] as number
    if (b - a > GAP_FACTOR * ctx.sysPeriodMs) found.push([a, b])
  }
  const one = ([a, b]: [number, number]) => `from ${ctx.at(a)} to ${ctx.at(b)} (${formatDuration(b - a)})`
  if (found.length <= MAX_SEPARATE) return found.map(([a, b]) => draft('gap', a, b, [], `No samples ${one([a, b])}: the chart shows a gap there, not a line.`, { durationMs: b - a }))
  const total = found.reduce((s, [a, b]) => s + b - a, 0)
  const first = found[0] as [number, number]
  const last = found[found.length - 1] as [number, number]
  return [draft('gap', first[0], last[1], [], `No samples in ${found.length} intervals (${formatDuration(total)} in all): ${some(found.map(one))}. The chart shows gaps there, not lines.`, { durationMs: total, intervals: found.length })]
}

function skipped(ctx: Ctx): Draft[] {
  const ev = ctx.trace.events.filter(e => e.kind === 'missed' && e.ticks)
  const text = (ticks: number, source: string | undefined) => `${ticks} ${source ? `${source} ` : ''}sample${ticks > 1 ? 's' : ''}`
  const why = 'sampling took longer than its interval (a busy or thrashing machine)'
  if (ev.length <= MAX_SEPARATE) return ev.map(e => draft('gap', Date.parse(e.ts), undefined, [], `At ${ctx.at(Date.parse(e.ts))} memtrace skipped ${text(e.ticks as number, e.source)}: ${why}.`, { ticks: e.ticks as number }))
  const total = ev.reduce((s, e) => s + (e.ticks as number), 0)
  const a = Date.parse((ev[0] as (typeof ev)[number]).ts)
  const b = Date.parse((ev[ev.length - 1] as (typeof ev)[number]).ts)
  return [draft('gap', a, b, [], `memtrace skipped ${total} samples ${ev.length} times between ${ctx.at(a)} and ${ctx.at(b)}: ${why}.`, { ticks: total })]
}

/** Samples the daemon held back while writes failed (a full disk) and had to drop past its limit. */
function dropped(ctx: Ctx): Draft[] {
  const ev = ctx.trace.events.filter(e => e.kind === 'dropped' && e.bytes)
  if (ev.length === 0) return []
  const files = [...new Set(ev.map(e => e.file ?? 'trace'))]
  const bytes = ev.reduce((s, e) => s + (e.bytes as number), 0)
  const a = Date.parse((ev[0] as (typeof ev)[number]).ts)
  const b = Date.parse((ev[ev.length - 1] as (typeof ev)[number]).ts)
  const when = a === b ? `at ${ctx.at(a)}` : `between ${ctx.at(a)} and ${ctx.at(b)}`
  const kib = Math.max(1, Math.round(bytes / 1024))
  const text = `memtrace dropped ${kib} KiB of whole samples from the ${join(files)} ${files.length > 1 ? 'files' : 'file'} ${when}: writes failed (a full disk) for longer than it could hold them back, so those samples are missing.`
  return [draft('gap', a, b, [], text, { droppedBytes: bytes })]
}

/** A marker that says the server was restarted or stopped (`NUM_PARALLEL=4, restart`, `sweep done, server stopped`, as memtrace bench marks its own server). */
export const RESTART_MARK = /\b(restart(ed|ing)?|server stopped)\b/i
/** A restart marker explains a server that did not answer from this long before its first error (a stop may take up to 10 s). */
const RESTART_LEAD_MS = 10_000

function unanswered(ctx: Ctx): Draft[] {
  const restarts = ctx.trace.events.filter(e => e.kind === 'marker' && RESTART_MARK.test(e.text ?? '')).map(e => Date.parse(e.ts))
  const errs = ctx.trace.events
    .filter(e => e.kind === 'source-error' && (e.source === 'api-ps' || e.source === undefined))
    .map(e => ({ ms: Date.parse(e.ts), msg: e.message ?? '' }))
    .sort((a, b) => a.ms - b.ms)
  const runs: { start: number; end: number; n: number; msg: string }[] = []
  for (const e of errs) {
    const run = runs[runs.length - 1]
    if (run && e.ms - run.end <= GAP_FACTOR * ctx.sysPeriodMs) {
      run.end = e.ms
      run.n++
    } else runs.push({ start: e.ms, end: e.ms, n: 1, msg: e.msg })
  }
  // A server restarted on purpose, and marked so, is drawn as its marker, not said to have failed.
  const own = (r: (typeof runs)[number]) => restarts.some(ms => ms >= r.start - RESTART_LEAD_MS && ms <= r.end + GAP_FACTOR * ctx.sysPeriodMs)
  runs.splice(0, runs.length, ...runs.filter(r => !own(r)))
  const when = (r: (typeof runs)[number]) => (r.n > 1 ? `from ${ctx.at(r.start)} to ${ctx.at(r.end)} (${r.n} system samples)` : `at ${ctx.at(r.start)}`)
  // A status code means it answered, with an error; else it did not answer at all.
  const what = (msg: string) => (/\b[45]\d\d\b/.test(msg) ? "The Ollama server's list of loaded models failed" : 'The Ollama server did not answer')
  if (runs.length <= MAX_SEPARATE) return runs.map(r => draft('server-unanswered', r.start, r.end, [], `${what(r.msg)} ${when(r)}: ${r.msg}`, { samples: r.n }))
  const n = runs.reduce((s, r) => s + r.n, 0)
  const first = runs[0] as (typeof runs)[number]
  const last = runs[runs.length - 1] as (typeof runs)[number]
  return [draft('server-unanswered', first.start, last.end, [], `The Ollama server did not answer ${runs.length} times (${n} system samples): ${some(runs.map(when))}. First error: ${first.msg}`, { samples: n })]
}

function restarts(ctx: Ctx): Draft[] {
  const starts = ctx.trace.events.filter(e => e.kind === 'start').slice(1)
  const at = starts.map(e => Date.parse(e.ts))
  if (starts.length <= MAX_SEPARATE) return at.map(ms => draft('daemon-restart', ms, undefined, [], `memtrace started again at ${ctx.at(ms)}: samples before and after are not joined.`))
  return [draft('daemon-restart', at[0] as number, at[at.length - 1], [], `memtrace started again ${starts.length} times (${someOf(at, ms => ctx.at(ms))}): samples before and after each are not joined.`)]
}
