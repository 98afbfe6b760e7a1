/** What every finding reads: the trace, the chart's zone, and exact look-ups of samples. Pure. */
import type { Finding, LoadedModel, ServerEvent } from '../../schemas/index.js'
import { GAP_FACTOR, procPeriod, sysPeriod } from '../../core/model/intervals.js'
import type { ProcSeries, Snapshot, Trace } from '../../core/model/trace.js'
import { wallClock } from '../chart/time-axis.js'
import { formatTs } from '../../core/parse/time.js'
import { lowerBound, snapsBetween } from './lookup.js'
import { timesOf } from '../../core/model/samples.js'
import { groupLoads, type Load, runnerFigures, type RunnerFigures, tieLoads } from './loads.js'
import { listedOn, type ServerRef, servers, speaksFor } from '../../core/model/servers.js'

/** A finding before it is ordered and numbered. */
export type Draft = Omit<Finding, 'n' | 'severity'>

export interface FindingOptions {
  zone: string
  lowFreePct: number
  /** The server's own log, read: its lines say why. */
  server?: ServerEvent[]
}

/** The server's log, told load by load and tied to the trace's runners. */
export interface ServerStory {
  events: ServerEvent[]
  loads: Load[]
  figures: RunnerFigures[]
}

/** Groups the log into loads and ties them to runners, once for the findings, the chart and the report. */
export function serverStory(trace: Trace, events: ServerEvent[]): ServerStory {
  const loads = groupLoads(events)
  tieLoads(loads, trace)
  return { events, loads, figures: runnerFigures(loads, trace) }
}

/** The trace with what the detectors share, worked out once. */
export interface Ctx {
  trace: Trace
  lowFreePct: number
  /** `14:03:12` in the chart's zone. */
  at: (ms: number) => string
  runners: ProcSeries[]
  /** Usual spacing of process and of system samples, ms. */
  procPeriodMs: number
  sysPeriodMs: number
  /** Every time at which any process row was written, ascending. */
  procTimes: Float64Array
  /** The time of each snapshot (they are in time order), for binary searches. */
  snapTimes: number[]
  /** The server's log, where one was given. */
  server?: ServerStory
  /** With several Ollama servers on the host, a runner's own (undefined otherwise): its overlaps, listings and claims are its server's. */
  serverOf: (s: ProcSeries) => ServerRef | undefined
}

export function makeCtx(trace: Trace, o: FindingOptions): Ctx {
  // A trace that crosses midnight in the zone says the date with every time.
  const day = (ms: number) => wallClock(ms, o.zone, { date: true }).slice(0, 10)
  const date = trace.endMs > trace.startMs && day(trace.startMs) !== day(trace.endMs)
  return {
    trace,
    lowFreePct: o.lowFreePct,
    at: ms => wallClock(ms, o.zone, { seconds: true, date }),
    runners: trace.procs.filter(s => s.role === 'runner'),
    procPeriodMs: procPeriod(trace),
    sysPeriodMs: sysPeriod(trace),
    procTimes: timesOf(trace.procs).times,
    snapTimes: trace.snapshots.map(s => s.tsMs),
    serverOf: servers(trace).of,
    ...(o.server ? { server: serverStory(trace, o.server) } : {}),
  }
}

import { GIB, gib } from '../../core/units.js'

export { GIB, gib }

/** The record every finding shares. */
export function draft(kind: Finding['kind'], startMs: number, endMs: number | undefined, runners: ProcSeries[], text: string, figures?: Record<string, number>): Draft {
  const f: Draft = { record: 'finding', kind, start: formatTs(startMs), text: text.trim() }
  if (endMs !== undefined && endMs !== startMs) f.end = formatTs(endMs)
  if (runners.length) {
    f.pids = runners.map(s => s.pid)
    f.models = runners.map(s => s.model ?? '')
  }
  if (figures && Object.keys(figures).length) f.figures = figures
  return f
}

export function join(parts: string[]): string {
  return parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`
}

/** The sentence's first letter in capitals. */
export const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

export const runnerName = (s: ProcSeries) => `runner PID ${s.pid}${s.server ? ` of server ${s.server}` : ''} for ${s.model ?? 'an unnamed model'}`
export const firstMs = (s: ProcSeries) => s.tsMs[0] as number
export const lastMs = (s: ProcSeries) => s.tsMs[s.tsMs.length - 1] as number
export const alive = (s: ProcSeries, ms: number) => firstMs(s) <= ms && ms <= lastMs(s)

/** What the free % is called on this platform, and where it comes from. */
export function freeWord(trace: Trace): string {
  return trace.sys.platform === 'linux' || trace.sys.platform === 'windows' ? 'available memory' : 'free memory'
}

export { lowerBound }

/** A value of a system series with the time of its sample. */
export interface At {
  v: number
  t: number
}

/** The value of a system series at exactly the sample at `ms`. */
export function valueAt(trace: Trace, name: string, ms: number): number | undefined {
  const vals = trace.sys.fields.get(name)
  const i = lowerBound(trace.sys.tsMs, ms)
  const v = vals?.[i]
  return trace.sys.tsMs[i] === ms && v !== undefined && !Number.isNaN(v) ? v : undefined
}

/**
 * The last sample of a series before `ms`, only when no gap in sampling lies
 * between it and `ms`: a "rose from" never starts before a gap.
 */
export function valueBefore(ctx: Ctx, name: string, ms: number): At | undefined {
  const { tsMs, fields } = ctx.trace.sys
  const vals = fields.get(name)
  if (!vals) return undefined
  for (let i = lowerBound(tsMs, ms) - 1; i >= 0; i--) {
    const t = tsMs[i] as number
    if (ms - t > GAP_FACTOR * ctx.sysPeriodMs) return undefined
    const v = vals[i] as number
    if (!Number.isNaN(v)) return { v, t }
  }
  return undefined
}

/** The last sample of a series in the trace. */
export function lastValue(trace: Trace, name: string): At | undefined {
  const vals = trace.sys.fields.get(name)
  for (let i = trace.sys.tsMs.length - 1; vals && i >= 0; i--) {
    const v = vals[i] as number
    if (!Number.isNaN(v)) return { v, t: trace.sys.tsMs[i] as number }
  }
  return undefined
}

/** Highest (or lowest) sample of a series with from ≤ t ≤ to; the earliest on a tie. */
export function extreme(trace: Trace, name: string, from: number, to: number, kind: 'max' | 'min'): At | undefined {
  const { tsMs, fields } = trace.sys
  const vals = fields.get(name)
  if (!vals) return undefined
  let best: At | undefined
  for (let i = lowerBound(tsMs, from); i < tsMs.length && (tsMs[i] as number) <= to; i++) {
    const v = vals[i] as number
    if (Number.isNaN(v)) continue
    if (!best || (kind === 'max' ? v > best.v : v < best.v)) best = { v, t: tsMs[i] as number }
  }
  return best
}

/** A runner's highest RSS sample, in bytes, with its time. */
export function peakRss(s: ProcSeries, from = -Infinity, to = Infinity): At | undefined {
  let best: At | undefined
  // An indexed loop: this runs once per runner over all its samples, too seldom to be optimised, and a callback allocates.
  for (let i = 0; i < s.tsMs.length; i++) {
    const t = s.tsMs[i] as number
    const v = (s.rssKb[i] as number) * 1024
    if (t >= from && t <= to && (!best || v > best.v)) best = { v, t }
  }
  return best
}

/**
 * How a runner came into the trace: `started` when sampling was going on just
 * before and it was not there; `trace-start` when it was there from the first
 * samples; `after-gap` when sampling had stopped just before it was first seen.
 */
export function arrival(ctx: Ctx, s: ProcSeries): 'started' | 'trace-start' | 'after-gap' {
  const t0 = firstMs(s)
  const window = GAP_FACTOR * ctx.procPeriodMs
  if (t0 - ctx.trace.startMs <= window) return 'trace-start'
  const restart = ctx.trace.events
    .filter(e => e.kind === 'start')
    .slice(1)
    .some(e => Math.abs(Date.parse(e.ts) - t0) <= window)
  if (restart) return 'after-gap'
  const prev = ctx.procTimes[lowerBound(ctx.procTimes, t0) - 1]
  if (prev !== undefined && t0 - prev <= window) return 'started'
  // No process row just before: a machine with no Ollama process, or a hole in
  // sampling. The system samples (written every time) tell which.
  return (valueBefore(ctx, 'free-pct', t0) ?? valueBefore(ctx, 'used', t0)) ? 'started' : 'after-gap'
}

/** Whether process sampling went on after `ms` (so a process missing there is really gone). */
export function sampledAfter(ctx: Ctx, ms: number): boolean {
  const next = ctx.procTimes[lowerBound(ctx.procTimes, ms + 1)]
  return next !== undefined && next - ms <= GAP_FACTOR * ctx.procPeriodMs
}

/** What the server listed at each system sample, with the model's entry when present (of `server`'s listing, where the trace has several servers). */
export function listing(snap: Snapshot, model: string, server?: ServerRef): LoadedModel | undefined {
  return server ? listedOn(snap, model, server) : snap.models.find(m => m.name === model)
}

/** The listings from `from` to `to` that speak for the runner's server: with several servers, its own server's (a server that did not answer says nothing). */
export function snapsFor(ctx: Ctx, s: ProcSeries, from: number, to: number): Snapshot[] {
  const snaps = snapsBetween(ctx.trace.snapshots, ctx.snapTimes, from, to)
  const server = ctx.serverOf(s)
  return server ? snaps.filter(snap => speaksFor(snap, server)) : snaps
}

/** `/api/ps` or `ollama ps`, whichever a snapshot came from. */
export function listSource(snap: Snapshot): string {
  return snap.models[0]?.source === 'ollama-ps' ? 'ollama ps' : '/api/ps'
}

/** Runners of one model set, as `qwen2.5-coder:7b` or `a and b`. */
export function modelsOf(runners: ProcSeries[]): string[] {
  return [...new Set(runners.map(s => s.model ?? 'an unnamed model'))]
}

/** Groups items by a key, keeping first-seen order. */
export function groupBy<T>(items: T[], key: (x: T) => string): T[][] {
  const m = new Map<string, T[]>()
  for (const x of items) {
    const k = key(x)
    const g = m.get(k)
    if (g) g.push(x)
    else m.set(k, [x])
  }
  return [...m.values()]
}

/** A list for a sentence: the first few, then how many more. */
export function some(items: string[], sep = ', ', max = 4): string {
  return items.length <= max ? items.join(sep) : `${items.slice(0, max - 1).join(sep)}${sep}and ${items.length - max + 1} more`
}

/** The same for items shown by `show`, which is asked only for the items shown (a time label costs a date formatting). */
export function someOf<T>(items: readonly T[], show: (x: T) => string, sep = ', ', max = 4): string {
  return items.length <= max ? items.map(show).join(sep) : `${items.slice(0, max - 1).map(show).join(sep)}${sep}and ${items.length - max + 1} more`
}

/** A kind with more groups than this says them all in one line. */
export const MAX_GROUPS = 3

/**
 * Items of one kind as lines: one per group (by model, usually), a group of
 * one in full; and when there are more than MAX_GROUPS groups, one line for all.
 */
export function lines<T>(items: T[], key: (x: T) => string, one: (x: T) => Draft, many: (g: T[]) => Draft): Draft[] {
  const groups = groupBy(items, key)
  if (groups.length > MAX_GROUPS) return [many(items)]
  return groups.map(g => (g.length === 1 ? one(g[0] as T) : many(g)))
}

/** `5.3–15.7 GiB`, or one figure when all are equal to the shown precision. */
export function range(vals: number[]): string {
  const lo = gib(Math.min(...vals))
  const hi = gib(Math.max(...vals))
  return lo === hi ? lo : `${lo.replace(' GiB', '')}–${hi}`
}
