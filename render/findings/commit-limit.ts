/**
 * Windows at its commit limit: the commit charge at 90 % of the limit or more.
 * Windows backs every committed page by RAM or a page file, so an allocation
 * fails at the limit however much physical memory is free: a runner can fail
 * to load, or die, with little resident. Pure.
 */
import type { Interval } from '../../core/model/intervals.js'
import { formatDuration } from '../../core/parse/time.js'
import { type Ctx, type Draft, draft, gib, join, lines, runnerName } from './context.js'
import { type AtLimit, atLimit, pctOf, together } from './limit-stretches.js'

/** The share of the commit limit at which Windows is at it (its own low-virtual-memory warning comes about there). */
export const COMMIT_FULL_SHARE = 0.9

type Full = AtLimit & { available?: number }

function fullStretches(ctx: Ctx): Full[] {
  const avail = ctx.trace.sys.fields.get('available')
  return atLimit(ctx, 'commit', 'commit-limit', COMMIT_FULL_SHARE).map(f => {
    const a = avail?.[f.peak.i]
    return a !== undefined && !Number.isNaN(a) ? { ...f, available: a } : f
  })
}

/** Whether the commit charge was at the limit at a sample inside `iv`. */
export function commitFullDuring(ctx: Ctx, iv: Interval): boolean {
  return fullStretches(ctx).some(f => f.iv.startMs <= iv.endMs && f.iv.endMs >= iv.startMs)
}

const pct = pctOf

function detail(ctx: Ctx, f: Full): string {
  const who = f.loaded.length ? `with ${join(f.loaded.map(runnerName))} alive` : 'with no model runner alive'
  const free = f.available !== undefined ? `, while ${gib(f.available)} of physical memory was still available` : ''
  return `the commit charge was ${gib(f.peak.v)} of its ${gib(f.peak.limit)} limit (${pct(f)}%) at ${ctx.at(f.peak.t)}${free}, ${who}`
}

const WHY = 'Windows backs every committed page by RAM or a page file: at this limit allocations fail, whatever physical memory is free; a larger page file or a smaller model (or context) makes room.'

function one(ctx: Ctx, f: Full): Draft {
  const len = f.iv.endMs > f.iv.startMs ? ` (${formatDuration(f.iv.endMs - f.iv.startMs)})` : ''
  const once = f.iv.endMs === f.iv.startMs
  const when = once ? `at ${ctx.at(f.iv.startMs)}` : f.iv.toEnd ? `from ${ctx.at(f.iv.startMs)} until the end of the trace${len}` : `from ${ctx.at(f.iv.startMs)} to ${ctx.at(f.iv.endMs)}${len}`
  const text = `Windows was at its commit limit ${when}: ${detail(ctx, f)}. ${WHY}`
  return draft('commit-limit', f.iv.startMs, f.iv.endMs, f.loaded, text, { commitBytes: f.peak.v, commitLimitBytes: f.peak.limit, durationMs: f.iv.endMs - f.iv.startMs })
}

function many(ctx: Ctx, g: Full[]): Draft {
  const { first, last, worst, total, runners } = together(g)
  const text =
    `Windows was at its commit limit ${g.length} times between ${ctx.at(first.iv.startMs)} and ${ctx.at(last.iv.endMs)} (${formatDuration(total)} in all${last.iv.toEnd ? ', the last until the end of the trace' : ''}). ` +
    `Highest: ${detail(ctx, worst)}. ${WHY}`
  return draft('commit-limit', first.iv.startMs, last.iv.endMs, runners, text, { commitBytes: worst.peak.v, commitLimitBytes: worst.peak.limit, intervals: g.length, durationMs: total })
}

/** One finding per stretch at the limit; stretches are one line. */
export function commitLimitFindings(ctx: Ctx): Draft[] {
  return lines(fullStretches(ctx), () => 'commit', f => one(ctx, f), g => many(ctx, g))
}
