/** A runner still alive after the server stopped listing its model (it holds memory nobody accounts for). Pure. */
import type { ProcSeries } from '../../core/model/trace.js'
import { formatDuration } from '../../core/parse/time.js'
import { type Ctx, type Draft, cap, draft, firstMs, gib, join, lastMs, lines, listing, listSource, modelsOf, peakRss, runnerName, snapsFor, someOf } from './context.js'

interface Orphan {
  runner: ProcSeries
  fromMs: number
  toMs: number
  /** Still alive and unlisted at its last sample. */
  toEnd: boolean
  source: string
  /** Listed earlier in the runner's life: "no longer listed", not "did not list". */
  wasListed: boolean
}

/**
 * A named runner alive while the server's answers no longer listed its model,
 * for more than one system interval: from the first answer without it to the
 * next answer with it, or to the runner's last sample.
 */
export function orphanFindings(ctx: Ctx): Draft[] {
  const found: Orphan[] = []
  for (const s of ctx.runners) {
    if (!s.model || s.modelSource === 'blob') continue
    const snaps = snapsFor(ctx, s, firstMs(s), lastMs(s))
    const server = ctx.serverOf(s)
    let from: (typeof snaps)[number] | undefined
    let wasListed = false
    const close = (toMs: number, toEnd: boolean) => {
      if (from && toMs - from.tsMs > ctx.sysPeriodMs) found.push({ runner: s, fromMs: from.tsMs, toMs, toEnd, source: `${listSource(from)}${server ? ` of server ${server.name}` : ''}`, wasListed })
      from = undefined
    }
    for (const snap of snaps) {
      if (listing(snap, s.model, server)) {
        close(snap.tsMs, false)
        wasListed = true
      } else from ??= snap
    }
    close(lastMs(s), true)
  }
  return lines(found, o => `${o.runner.server ?? ''}\n${o.runner.model ?? ''}`, o => one(ctx, o), g => many(ctx, g))
}

function one(ctx: Ctx, o: Orphan): Draft {
  const held = peakRss(o.runner, o.fromMs, o.toMs)
  const until = o.toEnd ? (lastMs(o.runner) >= ctx.trace.endMs - ctx.procPeriodMs ? 'until the end of the trace' : `until it exited at ${ctx.at(o.toMs)}`) : `until it was listed again at ${ctx.at(o.toMs)}`
  const text =
    `${cap(runnerName(o.runner))} was alive while ${o.source} ${o.wasListed ? 'no longer listed' : 'did not list'} ${o.runner.model}: from ${ctx.at(o.fromMs)} ${until} (${formatDuration(o.toMs - o.fromMs)}), ` +
    `an orphan runner${held ? ` holding up to ${gib(held.v)} RSS (${ctx.at(held.t)})` : ''}.`
  return draft('orphan-runner', o.fromMs, o.toMs, [o.runner], text, { durationMs: o.toMs - o.fromMs, ...(held ? { rssBytes: held.v } : {}) })
}

function many(ctx: Ctx, g: Orphan[]): Draft {
  const total = g.reduce((a, o) => a + (o.toMs - o.fromMs), 0)
  const first = g[0] as Orphan
  const runners = [...new Set(g.map(o => o.runner))]
  const text =
    `${g.length} times a runner of ${join(modelsOf(runners))}${first.runner.server ? ` (server ${first.runner.server})` : ''} was alive while ${first.source} ${g.every(o => o.wasListed) ? 'no longer listed' : 'did not list'} its model ` +
    `(${someOf(g, o => `pid ${o.runner.pid} from ${ctx.at(o.fromMs)}`)}; ${formatDuration(total)} in all): orphan runners.`
  return draft('orphan-runner', first.fromMs, Math.max(...g.map(o => o.toMs)), runners, text, { durationMs: total, intervals: g.length })
}
