/** A runner gone, but free memory not back to where it was before it started. Pure. */
import { pctText } from '../../core/units.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { type At, type Ctx, type Draft, arrival, cap, draft, extreme, firstMs, freeWord, join, lastMs, lines, modelsOf, runnerName, sampledAfter, someOf, valueBefore } from './context.js'
import { Lifetimes } from './lookup.js'
import { LOAD_WINDOW_MS } from './wired-jump.js'

/** Free % that stays this many points below its level before the runner is a finding. */
export const RECOVERY_POINTS = 10
/** Another runner alive this soon after the exit holds memory of its own: no finding. */
const QUIET_MS = 20_000

interface Kept {
  runner: ProcSeries
  before: At
  after: At
}

export function notGivenBackFindings(ctx: Ctx): Draft[] {
  const kept: Kept[] = []
  const lastSys = ctx.trace.sys.tsMs[ctx.trace.sys.tsMs.length - 1] ?? 0
  const lives = new Lifetimes(ctx.runners)
  for (const s of ctx.runners) {
    const end = lastMs(s)
    if (lastSys - end < QUIET_MS || !sampledAfter(ctx, end)) continue // still running, or no time to tell
    if (arrival(ctx, s) !== 'started') continue
    if (lives.any(end + QUIET_MS, end + QUIET_MS, s)) continue // another runner alive then
    const before = valueBefore(ctx, 'free-pct', firstMs(s))
    const after = extreme(ctx.trace, 'free-pct', end + 1, end + LOAD_WINDOW_MS, 'max')
    if (before && after && before.v - after.v >= RECOVERY_POINTS) kept.push({ runner: s, before, after })
  }
  return lines(kept, k => k.runner.model ?? '', k => one(ctx, k), g => many(ctx, g))
}

function one(ctx: Ctx, k: Kept): Draft {
  const text =
    `${cap(runnerName(k.runner))} exited at ${ctx.at(lastMs(k.runner))}, but ${freeWord(ctx.trace)} was at most ${pctText(k.after.v)}% in the minute after (${ctx.at(k.after.t)}), ` +
    `against ${pctText(k.before.v)}% at ${ctx.at(k.before.t)} before it started: memory not given back.`
  return draft('not-given-back', lastMs(k.runner), k.after.t, [k.runner], text, { freePctBefore: k.before.v, freePctAfter: k.after.v })
}

function many(ctx: Ctx, g: Kept[]): Draft {
  const first = g[0] as Kept
  const last = g[g.length - 1] as Kept
  const worst = g.reduce((a, k) => (k.before.v - k.after.v > a.before.v - a.after.v ? k : a))
  const text =
    `${g.length} runners of ${join(modelsOf(g.map(k => k.runner)))} exited without ${freeWord(ctx.trace)} coming back (${someOf(g, k => `pid ${k.runner.pid} at ${ctx.at(lastMs(k.runner))}`)}); ` +
    `the worst, pid ${worst.runner.pid}: at most ${pctText(worst.after.v)}% in the minute after (${ctx.at(worst.after.t)}) against ${pctText(worst.before.v)}% at ${ctx.at(worst.before.t)} before it started.`
  return draft('not-given-back', lastMs(first.runner), last.after.t, g.map(k => k.runner), text, { freePctBefore: worst.before.v, freePctAfter: worst.after.v, runners: g.length })
}
