/** A process the kernel's OOM killer killed: the harm, so the first finding. Pure. */
import type { ProcSeries } from '../../core/model/trace.js'
import { gib } from '../../core/units.js'
import type { ServerEvent } from '../../schemas/index.js'
import { clip } from '../../core/svg.js'
import { type Ctx, type Draft, draft, freeWord, lastMs } from './context.js'
import { nameOf, placed } from './decisions.js'

/**
 * One sentence per kill the daemon recorded (`memtrace oom-kill`): the
 * process, its model, its RSS at its last sample (the trace's own figure, at
 * the time it names), and the memory it ran out of at the system sample
 * before: the container's usage against its limit, else the host's available
 * memory.
 */
export function oomKillFindings(ctx: Ctx): Draft[] {
  const out: Draft[] = []
  const kills = ctx.trace.events.filter(e => e.kind === 'oom-kill' && e.pid !== undefined).map(e => ({ ts: e.ts, pid: e.pid as number, text: e.text, model: e.model, source: e.source }))
  // A kernel line pasted in the server's log counts when the daemon did not see that kill itself.
  for (const e of ctx.server?.events ?? []) {
    const ms = e.kind === 'kernel-oom-kill' && e.pid !== undefined ? placed(ctx, e) : undefined
    if (ms !== undefined && !kills.some(k => k.pid === e.pid)) kills.push({ ts: e.ts as string, pid: e.pid as number, text: e.process, model: undefined, source: 'kernel' })
  }
  for (const e of kills) {
    const killedMs = Date.parse(e.ts)
    const series = lastSeries(ctx.trace.procs, e.pid, killedMs)
    const who = series ? (series.role === 'runner' ? nameOf(ctx, series, e.model) : `${series.role} PID ${series.pid} (${series.comm})`) : `PID ${e.pid}${e.text ? ` (${e.text})` : ''}`
    const figures: Record<string, number> = {}
    let text = `The kernel's OOM killer killed ${who}`
    const at = series ? lastMs(series) : killedMs
    text += series ? lastHeld(ctx, series, figures) : ` (by ${ctx.at(killedMs)})`
    text += memoryThen(ctx, at, figures)
    text += `. ${how(e.source)}`
    const said = series ? stopLine(ctx, series) : undefined
    if (said) text += ` Ollama's log: "${clip(said.text ?? 'process has terminated', 120)}".`
    out.push(draft('oom-kill', at, killedMs > at ? killedMs : undefined, series ? [series] : [], text, figures))
  }
  return out
}

/** `: it held 30.5 GiB RSS at its last sample, 09:09:00`, with the figure. */
function lastHeld(ctx: Ctx, s: ProcSeries, figures: Record<string, number>): string {
  const rss = s.rssKb[s.rssKb.length - 1] as number
  figures.rssBytes = rss * 1024
  return `: it held ${gib(rss * 1024)} RSS at its last sample, ${ctx.at(lastMs(s))}`
}

/** The log's line for a runner's end: the first `process has terminated` within a few seconds after its last sample. */
function stopLine(ctx: Ctx, s: ProcSeries): ServerEvent | undefined {
  const end = lastMs(s)
  return ctx.server?.events.find(e => {
    const ms = e.kind === 'runner-stopped' ? placed(ctx, e) : undefined
    return ms !== undefined && ms >= end - 1000 && ms <= end + 2 * ctx.procPeriodMs + 1000
  })
}

/**
 * A runner Ollama's log says was killed (`signal: killed`, SIGKILL) when the
 * trace holds no OOM kill for it: the OOM killer's signal, or someone's
 * `kill -9`. The runner is the one whose last sample came just before the line.
 */
export function runnerKilledFindings(ctx: Ctx): Draft[] {
  const out: Draft[] = []
  const killed = new Set(ctx.trace.events.filter(e => e.kind === 'oom-kill').map(e => e.pid))
  for (const e of ctx.server?.events ?? []) if (e.kind === 'kernel-oom-kill') killed.add(e.pid)
  for (const e of ctx.server?.events ?? []) {
    const ms = e.kind === 'runner-stopped' && e.signal === 'killed' ? placed(ctx, e) : undefined
    if (ms === undefined) continue
    const series = endedAt(ctx, ms)
    if (series && killed.has(series.pid)) continue
    const figures: Record<string, number> = {}
    let text = `Ollama's log says ${series ? nameOf(ctx, series) : 'a runner'} was killed (signal: killed) at ${ctx.at(ms)}`
    const at = series ? lastMs(series) : ms
    if (series) text += lastHeld(ctx, series, figures)
    text += memoryThen(ctx, at, figures)
    text += ". SIGKILL is the OOM killer's signal, but the trace holds no OOM kill for it: something else may have killed it (kill -9, a container's stop)."
    out.push(draft('runner-killed', at, ms > at ? ms : undefined, series ? [series] : [], text, figures))
  }
  return out
}

/** The runner whose last sample came just before `ms` (a log's line for its end). */
export function endedAt(ctx: Ctx, ms: number): ProcSeries | undefined {
  let series: ProcSeries | undefined
  for (const s of ctx.runners) {
    const end = lastMs(s)
    if (end <= ms + 1000 && end >= ms - 2 * ctx.procPeriodMs - 1000 && (!series || end > lastMs(series))) series = s
  }
  return series
}

/** The process's series that was alive last before the kill (a PID can be reused). */
export function lastSeries(procs: ProcSeries[], pid: number, beforeMs: number): ProcSeries | undefined {
  let best: ProcSeries | undefined
  for (const s of procs) if (s.pid === pid && (s.tsMs[0] as number) <= beforeMs && (!best || lastMs(s) > lastMs(best))) best = s
  return best
}

/** The memory that ran out, at the last system sample at or before `ms`. */
function memoryThen(ctx: Ctx, ms: number, figures: Record<string, number>): string {
  const { tsMs, fields } = ctx.trace.sys
  let i = tsMs.length - 1
  while (i >= 0 && (tsMs[i] as number) > ms) i--
  if (i < 0) return ''
  const t = tsMs[i] as number
  const usage = fields.get('cgroup-usage')?.[i]
  const limit = fields.get('cgroup-limit')?.[i]
  if (usage !== undefined && !Number.isNaN(usage) && limit !== undefined && !Number.isNaN(limit)) {
    figures.cgroupUsageBytes = usage
    figures.cgroupLimitBytes = limit
    return `; the container used ${gib(usage)} of its ${gib(limit)} limit at ${ctx.at(t)}`
  }
  const avail = fields.get('available')?.[i] ?? fields.get('free')?.[i]
  if (avail !== undefined && !Number.isNaN(avail)) {
    figures.availableBytes = avail
    return `; ${freeWord(ctx.trace)} was ${gib(avail)} at ${ctx.at(t)}`
  }
  return ''
}

function how(source: string | undefined): string {
  if (source === 'kernel') return 'The kernel log names it.'
  if (source === 'cgroup') return "The container's OOM-kill count rose while it vanished."
  return "The kernel's OOM-kill count rose while it vanished."
}
