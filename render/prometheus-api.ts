/**
 * Asking Prometheus's HTTP API for `render --prometheus`, as a stranger's
 * server: every answer is read as a stream up to a size cap, every series is
 * checked against what was asked (its times are numbers inside the window,
 * no more points than the step allows), and label values never carry a
 * control character into the trace written from them. Long windows are
 * asked in chunks, each within Prometheus's 11,000 points a series.
 */
import { InputError } from '../core/errors.js'
import { formatTs } from '../core/parse/time.js'
import { oneLine, printable } from '../core/safe-text.js'

const MIB = 2 ** 20
/** One answer: a day at 1 s of one series is about 2 MB of JSON; a window of chunks is asked piece by piece. */
export const MAX_ANSWER_BYTES = 64 * MIB
/** Prometheus answers at most 11,000 points a series; a chunk asks for fewer. */
const CHUNK_POINTS = 10_000
/** Points kept in all, over every series and chunk: what memory a render from Prometheus may hold. */
export const MAX_POINTS_IN_ALL = 4_000_000
/** Points a series may have in one render: 24 hours at 1 s. */
export const MAX_POINTS_PER_SERIES = 86_401
const TIMEOUT_MS = 30_000

/** One series, its label values made safe, its points as numbers. */
export interface Series {
  metric: Record<string, string>
  /** Times in ms, ascending within a chunk. */
  ts: number[]
  values: number[]
}

/** The URL without its user and password, for messages and the chart. */
export function shownUrl(url: string): string {
  const u = new URL(url)
  u.username = ''
  u.password = ''
  return u.href
}

/** The body as text, read no further than `cap` bytes. */
async function cappedText(res: Response, cap: number, what: string): Promise<string> {
  const declared = Number(res.headers.get('content-length'))
  if (declared > cap) {
    await res.body?.cancel()
    throw new InputError(`${what}: an answer of ${(declared / MIB).toFixed(0)} MiB, over the ${cap / MIB} MiB memtrace reads; give a shorter span or a larger --step`)
  }
  const reader = res.body?.getReader()
  if (!reader) return ''
  const decoder = new TextDecoder()
  let text = ''
  let bytes = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    bytes += value.byteLength
    if (bytes > cap) {
      await reader.cancel()
      throw new InputError(`${what}: the answer went past the ${cap / MIB} MiB memtrace reads; give a shorter span or a larger --step`)
    }
    text += decoder.decode(value, { stream: true })
  }
  return text + decoder.decode()
}

/** GET an API path; its `data`, or an InputError that a terminal can print as it is. */
export async function apiGet(base: string, path: string, params: Record<string, string>): Promise<unknown> {
  const u = new URL(path, base.endsWith('/') ? base : `${base}/`)
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v)
  // A user and password in the URL go in a header (fetch refuses them in the URL) and never into a message.
  const headers: Record<string, string> = {}
  if (u.username || u.password) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
  u.username = ''
  u.password = ''
  const where = `${u.origin}${u.pathname}`
  let res: Response
  try {
    res = await fetch(u, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) })
  } catch (e) {
    throw new InputError(`Prometheus at ${shownUrl(base)} did not answer: ${oneLine((e as Error).message)}`)
  }
  let body: { status?: unknown; data?: unknown; error?: unknown }
  try {
    body = JSON.parse(await cappedText(res, MAX_ANSWER_BYTES, where)) as typeof body
  } catch (e) {
    if (e instanceof InputError) throw e
    throw new InputError(`${where}: HTTP ${res.status}, not Prometheus's JSON`)
  }
  if (body === null || typeof body !== 'object') throw new InputError(`${where}: HTTP ${res.status}, not Prometheus's JSON`)
  if (body.status !== 'success') throw new InputError(`Prometheus: ${typeof body.error === 'string' ? oneLine(body.error).slice(0, 500) : `HTTP ${res.status}`}`)
  return body.data
}

/**
 * A label value as text that cannot start a row, a field, a word or an escape
 * in what is written from it. memtrace's labels (roles, models, kinds, PIDs,
 * digests) never hold white space: any is shown as damage. A marker's `text`
 * is written as a JSON string only, so it keeps its spaces (no other white space).
 */
function labelValue(v: unknown, key?: string): string {
  const text = printable(typeof v === 'string' ? v : JSON.stringify(v) ?? '')
  return (key === 'text' ? text.replace(/[^\S ]/g, '\uFFFD') : text.replace(/\s/g, '\uFFFD')).slice(0, 256)
}

/** A PromQL string literal. */
const quoted = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`

export interface RangeAsk {
  url: string
  instance: string
  fromMs: number
  toMs: number
  stepS: number
}

/** How many points a window has at a step, both ends counted. */
export function pointsIn(fromMs: number, toMs: number, stepS: number): number {
  return Math.floor((toMs - fromMs) / 1000 / stepS) + 1
}

/**
 * The chunks a window is asked in: each at most CHUNK_POINTS points, on the
 * same grid of steps from `fromMs`, none overlapping.
 */
export function chunks(fromMs: number, toMs: number, stepS: number): [number, number][] {
  const out: [number, number][] = []
  const stepMs = stepS * 1000
  for (let start = fromMs; start <= toMs; start += CHUNK_POINTS * stepMs) out.push([start, Math.min(toMs, start + (CHUNK_POINTS - 1) * stepMs)])
  return out
}

/** Counts kept across the queries of one render, to bound what it holds. */
export interface Budget {
  points: number
}

/**
 * One metric over the window, chunk by chunk, checked: a time that is not a
 * number or lies outside the chunk asked for, or more points than its steps,
 * is an error naming the metric; a value that is not a finite number (NaN,
 * +Inf) is left out, as a gap.
 */
export async function rangeOf(ask: RangeAsk, name: string, budget: Budget): Promise<Series[]> {
  const byLabels = new Map<string, Series>()
  const stepMs = ask.stepS * 1000
  for (const [start, end] of chunks(ask.fromMs, ask.toMs, ask.stepS)) {
    const data = (await apiGet(ask.url, 'api/v1/query_range', {
      query: `${name}{instance=${quoted(ask.instance)}}`,
      start: String(start / 1000),
      end: String(end / 1000),
      step: String(ask.stepS),
    })) as { result?: unknown } | null
    const result = data && typeof data === 'object' ? data.result : undefined
    if (result === undefined || result === null) continue
    if (!Array.isArray(result)) throw new InputError(`Prometheus answered ${name} with no list of series`)
    const most = pointsIn(start, end, ask.stepS)
    for (const s of result as { metric?: unknown; values?: unknown }[]) {
      const rawMetric = s && typeof s === 'object' && s.metric && typeof s.metric === 'object' ? (s.metric as Record<string, unknown>) : {}
      const metric = Object.fromEntries(Object.entries(rawMetric).map(([k, v]) => [labelValue(k), labelValue(v, k)]))
      const values = s && typeof s === 'object' ? s.values : undefined
      if (!Array.isArray(values)) throw new InputError(`Prometheus answered a series of ${name} without values`)
      if (values.length > most) throw new InputError(`Prometheus answered ${values.length} points of ${name} between ${formatTs(start)} and ${formatTs(end)}, more than the ${most} its ${ask.stepS} s steps hold`)
      const key = JSON.stringify(Object.entries(metric).sort(([a], [b]) => (a < b ? -1 : 1)))
      let series = byLabels.get(key)
      if (!series) byLabels.set(key, (series = { metric, ts: [], values: [] }))
      for (const p of values as unknown[]) {
        const [t, v] = Array.isArray(p) ? p : [undefined, undefined]
        if (typeof t !== 'number' || !Number.isFinite(t)) throw new InputError(`Prometheus answered a time that is not a number in ${name}: ${oneLine(JSON.stringify(t) ?? 'nothing').slice(0, 40)}`)
        const ms = Math.round(t * 1000)
        if (ms < start - stepMs || ms > end + stepMs) throw new InputError(`Prometheus answered a point of ${name} at ${Math.abs(ms) < 8.64e15 ? formatTs(ms) : `${t} s`}, outside the ${formatTs(start)} – ${formatTs(end)} asked for`)
        const value = typeof v === 'string' || typeof v === 'number' ? Number(v) : Number.NaN
        if (!Number.isFinite(value)) continue
        if (series.ts.length >= MAX_POINTS_PER_SERIES) throw new InputError(`more than ${MAX_POINTS_PER_SERIES} points in one series of ${name}; give a shorter span or a larger --step`)
        if (++budget.points > MAX_POINTS_IN_ALL) throw new InputError(`more than ${MAX_POINTS_IN_ALL} points from Prometheus in all; give a shorter span or a larger --step`)
        series.ts.push(ms)
        series.values.push(value)
      }
    }
  }
  return [...byLabels.values()]
}
