/** A runner that exited (or was killed) while the server still listed its model. Pure. */
import type { ProcSeries } from '../../core/model/trace.js'
import { speaksFor } from '../../core/model/servers.js'
import { Lifetimes, upperBound } from './lookup.js'
import { type Ctx, type Draft, cap, draft, join, lastMs, lines, listing, listSource, modelsOf, runnerName, sampledAfter, someOf } from './context.js'

/** Process samples the runner must be missing for before a listing counts (the unload's own race). */
const MARGIN_PERIODS = 2

interface Gone {
  runner: ProcSeries
  untilMs: number
  samples: number
  toEnd: boolean
  source: string
}

export function goneWhileListedFindings(ctx: Ctx): Draft[] {
  const found: Gone[] = []
  const pp = ctx.procPeriodMs
  const snaps = ctx.trace.snapshots
  const byModel = new Map<string, Lifetimes>()
  for (const s of ctx.runners) {
    if (!s.model || s.modelSource === 'blob') continue
    const end = lastMs(s)
    if (!sampledAfter(ctx, end)) continue // the trace, or sampling, stopped with it
    const model = s.model
    // With several servers: its own server's listings, and its own server's runners of the model.
    const server = ctx.serverOf(s)
    const key = `${server?.key ?? ''}\n${model}`
    let lives = byModel.get(key)
    if (!lives) byModel.set(key, (lives = new Lifetimes(ctx.runners.filter(o => o.model === model && ctx.serverOf(o)?.key === server?.key))))
    const served = (t: number) => (lives as Lifetimes).any(t + pp, t - pp)
    let n = 0
    let until = 0
    const after = upperBound(ctx.snapTimes, end + MARGIN_PERIODS * pp)
    let i = after < snaps.length ? after : -1
    for (; i >= 0 && i < snaps.length; i++) {
      const snap = snaps[i] as (typeof snaps)[number]
      if (!speaksFor(snap, server)) continue
      if (!listing(snap, model, server) || served(snap.tsMs)) break
      n++
      until = snap.tsMs
    }
    if (n === 0) continue
    // Past the margin it was really listed without a runner: the answers within the margin that listed it count too.
    for (let j = after - 1; j >= 0 && (snaps[j] as (typeof snaps)[number]).tsMs > end; j--) {
      const snap = snaps[j] as (typeof snaps)[number]
      if (!listing(snap, model) || served(snap.tsMs)) break
      n++
    }
    const first = snaps[after] as (typeof snaps)[number]
    found.push({ runner: s, untilMs: until, samples: n, toEnd: i === snaps.length, source: listSource(first) })
  }
  return lines(found, g => `${g.runner.server ?? ''}\n${g.runner.model ?? ''}`, g => one(ctx, g), g => many(ctx, g))
}

function one(ctx: Ctx, g: Gone): Draft {
  const until = g.toEnd ? `until the end of the trace (${ctx.at(g.untilMs)})` : `until ${ctx.at(g.untilMs)}`
  const text =
    `${cap(runnerName(g.runner))} exited (or was killed) at ${ctx.at(lastMs(g.runner))}, but ${g.source} still listed ${g.runner.model} ${until}, ` +
    `in ${g.samples} sample${g.samples > 1 ? 's' : ''}, with no runner for it alive.`
  return draft('runner-gone-while-listed', lastMs(g.runner), g.untilMs, [g.runner], text, { listedSamples: g.samples })
}

function many(ctx: Ctx, g: Gone[]): Draft {
  const first = g[0] as Gone
  const text =
    `${g.length} runners of ${join(modelsOf(g.map(x => x.runner)))} exited (or were killed) while ${first.source} still listed their model with no runner alive ` +
    `(${someOf(g, x => `pid ${x.runner.pid} at ${ctx.at(lastMs(x.runner))}, listed until ${ctx.at(x.untilMs)}`, '; ')}).`
  return draft('runner-gone-while-listed', lastMs(first.runner), Math.max(...g.map(x => x.untilMs)), g.map(x => x.runner), text, { runners: g.length })
}
