/**
 * A container at its memory limit: the cgroup's usage at 95 % of its limit or
 * more. Inside a container the host's free memory says nothing of the limit
 * that the kernel enforces, so this is the memory that ran out. Pure.
 */
import type { ProcSeries } from '../../core/model/trace.js'
import { formatDuration } from '../../core/parse/time.js'
import { type At, type Ctx, type Draft, draft, gib, join, lines, lowerBound, runnerName } from './context.js'
import { type AtLimit, atLimit, pctOf, together } from './limit-stretches.js'
import { CGROUP_FULL_SHARE } from './severity.js'

type Full = AtLimit

/** Stretches of system samples with usage at CGROUP_FULL_SHARE of the limit or more. */
function fullStretches(ctx: Ctx): Full[] {
  return atLimit(ctx, 'cgroup-usage', 'cgroup-limit', CGROUP_FULL_SHARE)
}

/** The RSS of a runner at its last sample at or before `ms`. */
function rssAt(s: ProcSeries, ms: number): At | undefined {
  const i = lowerBound(s.tsMs, ms + 1) - 1
  const kb = s.rssKb[i]
  return i >= 0 && kb !== undefined && !Number.isNaN(kb) ? { v: kb * 1024, t: s.tsMs[i] as number } : undefined
}

const pct = pctOf

function holding(ctx: Ctx, f: Full): string {
  const held = f.loaded.map(s => ({ s, at: rssAt(s, f.peak.t) })).filter(x => x.at)
  if (!held.length) return 'with no model runner alive'
  return `with ${join(held.map(({ s, at }) => `${runnerName(s)} at ${gib((at as At).v)} RSS (${ctx.at((at as At).t)})`))}`
}

function one(ctx: Ctx, f: Full): Draft {
  const len = f.iv.endMs > f.iv.startMs ? ` (${formatDuration(f.iv.endMs - f.iv.startMs)})` : ''
  const once = f.iv.endMs === f.iv.startMs
  const until = once && f.iv.toEnd ? `at ${ctx.at(f.iv.startMs)}, the trace's last sample` : f.iv.toEnd ? `from ${ctx.at(f.iv.startMs)} until the end of the trace${len}` : !once ? `from ${ctx.at(f.iv.startMs)} to ${ctx.at(f.iv.endMs)}${len}` : `at ${ctx.at(f.iv.startMs)}`
  const text =
    `The container was at its memory limit ${until}: it used ${gib(f.peak.v)} of its ${gib(f.peak.limit)} (${pct(f)}%)${once ? '' : ` at ${ctx.at(f.peak.t)}`}, ${holding(ctx, f)}. ` +
    'Inside a container the kernel reclaims and kills at this limit, whatever the host has free.'
  return draft('container-limit', f.iv.startMs, f.iv.endMs, f.loaded, text, { cgroupUsageBytes: f.peak.v, cgroupLimitBytes: f.peak.limit, durationMs: f.iv.endMs - f.iv.startMs })
}

function many(ctx: Ctx, g: Full[]): Draft {
  const { first, last, worst, total, runners } = together(g)
  const text =
    `The container was at its memory limit ${g.length} times between ${ctx.at(first.iv.startMs)} and ${ctx.at(last.iv.endMs)} (${formatDuration(total)} in all${last.iv.toEnd ? ', the last until the end of the trace' : ''}). ` +
    `Highest: ${gib(worst.peak.v)} of its ${gib(worst.peak.limit)} (${pct(worst)}%) at ${ctx.at(worst.peak.t)}, ${holding(ctx, worst)}.`
  return draft('container-limit', first.iv.startMs, last.iv.endMs, runners, text, { cgroupUsageBytes: worst.peak.v, cgroupLimitBytes: worst.peak.limit, intervals: g.length, durationMs: total })
}

/** One finding per stretch at the limit; stretches are one line. */
export function containerLimitFindings(ctx: Ctx): Draft[] {
  return lines(fullStretches(ctx), () => 'container', f => one(ctx, f), g => many(ctx, g))
}
