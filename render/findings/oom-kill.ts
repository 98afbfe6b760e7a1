/** A process the kernel's OOM killer killed: the harm, so the first finding. Pure. */
import type { ProcSeries } from '../../core/model/trace.js'
import { gib } from '../../core/units.js'
import { type Ctx, type Draft, draft, freeWord, lastMs, runnerName } from './context.js'

/**
 * One sentence per kill the daemon recorded (`memtrace oom-kill`): the
 * process, its model, its RSS at its last sample (the trace's own figure, at
 * the time it names), and the memory it ran out of at the system sample
 * before: the container's usage against its limit, else the host's available
 * memory.
 */
export function oomKillFindings(ctx: Ctx): Draft[] {
  const out: Draft[] = []
  for (const e of ctx.trace.events) {
    if (e.kind !== 'oom-kill' || e.pid === undefined) continue
    const killedMs = Date.parse(e.ts)
    const series = lastSeries(ctx.trace.procs, e.pid, killedMs)
    const who = series ? (series.role === 'runner' ? runnerName(series) : `${series.role} PID ${series.pid} (${series.comm})`) : `PID ${e.pid}${e.text ? ` (${e.text})` : ''}`
    const figures: Record<string, number> = {}
    let text = `The kernel's OOM killer killed ${who}`
    let at = killedMs
    if (series) {
      at = lastMs(series)
      const rss = series.rssKb[series.rssKb.length - 1] as number
      figures.rssBytes = rss * 1024
      text += `: it held ${gib(rss * 1024)} RSS at its last sample, ${ctx.at(at)}`
    } else text += ` (by ${ctx.at(killedMs)})`
    text += memoryThen(ctx, at, figures)
    text += `. ${how(e.source)}`
    out.push(draft('oom-kill', at, killedMs > at ? killedMs : undefined, series ? [series] : [], text, figures))
  }
  return out
}

/** The process's series that was alive last before the kill (a PID can be reused). */
function lastSeries(procs: ProcSeries[], pid: number, beforeMs: number): ProcSeries | undefined {
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
