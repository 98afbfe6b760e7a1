/**
 * The `memtrace <kind> <json>` event lines of the system trace: written by the
 * daemon, read back by every reader of a block.
 */
import type { TraceEvent } from '../../schemas/index.js'
import { MAX_BYTES, MAX_PID } from './ranges.js'
import { formatTs, parseTs } from './time.js'

const EVENT_RE = /^memtrace ([a-z-]+) (\{.*\})$/
const EVENT_KINDS = new Set(['marker', 'runner', 'start', 'missed', 'source-error', 'dropped', 'oom-kill', 'server'])

/** One event line, as the daemon appends it to a block. */
export function eventLine(kind: TraceEvent['kind'], body: Record<string, unknown>): string {
  return `memtrace ${kind} ${JSON.stringify(body)}\n`
}

/** Largest figures an event may carry: a billion ticks is 31 years at one a second. */
const EVENT_LIMITS = { pid: MAX_PID, ticks: 1e9, bytes: MAX_BYTES } as const
/** The most of an event's text that is kept (a marker, an error message). */
const MAX_EVENT_TEXT = 1000

/** An event, or why the line is not one. */
export function parseEvent(line: string, blockTs: string, no: number): TraceEvent | string {
  const m = EVENT_RE.exec(line)
  if (!m || !EVENT_KINDS.has(m[1] as string)) return 'memtrace event line is not `memtrace <kind> <json>`'
  let body: Record<string, unknown>
  try {
    body = JSON.parse(m[2] as string) as Record<string, unknown>
  } catch {
    return 'memtrace event line is not `memtrace <kind> <json>`'
  }
  // Its own time must be a real UTC instant; it is stored in the trace's form.
  const ms = typeof body.ts === 'string' ? parseTs(body.ts) : parseTs(blockTs)
  if (Number.isNaN(ms) || Number.isNaN(new Date(ms).getTime())) return 'memtrace event with a time that is not ISO-8601 with a zone; skipped'
  const ev: TraceEvent = {
    record: 'trace-event',
    kind: m[1] as TraceEvent['kind'],
    ts: typeof body.ts === 'string' ? (ms % 1000 ? new Date(ms).toISOString() : formatTs(ms)) : blockTs,
    line: no,
  }
  for (const key of ['text', 'model', 'blob', 'source', 'message', 'version', 'file', 'address', 'via'] as const) {
    if (typeof body[key] === 'string') ev[key] = (body[key] as string).slice(0, MAX_EVENT_TEXT)
  }
  for (const key of ['pid', 'ticks', 'bytes'] as const) {
    const v = body[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > EVENT_LIMITS[key]) return `memtrace event with a ${key} no machine has; skipped`
    ev[key] = v
  }
  return ev
}
