/** A runner still alive after the server stopped listing its model (it holds memory nobody accounts for). Pure. */
import type { ProcSeries } from '../../core/model/trace.js'
import { formatDuration } from '../../core/parse/time.js'
import { gpuLeastFree, gpuPeak, gpuSourceOf, ownGpu } from './gpu-use.js'
import { GPU_SHORT_PCT } from './severity.js'
import { type At, type Ctx, type Draft, cap, draft, firstMs, gib, join, lastMs, lines, listing, listSource, modelsOf, peakRss, runnerName, snapsFor, someOf } from './context.js'

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
  return lines(orphans(ctx), o => `${o.runner.server ?? ''}\n${o.runner.model ?? ''}`, o => one(ctx, o), g => many(ctx, g))
}

/** Each orphan's interval, for the chart to draw under its badge. */
export function orphanIntervals(ctx: Ctx): { startMs: number; endMs: number; pid: number }[] {
  return orphans(ctx).map(o => ({ startMs: o.fromMs, endMs: o.toMs, pid: o.runner.pid }))
}

/** The orphans of each context, found once: the findings and the chart both ask (on 10,000 processes, 20 ms each time). */
const found = new WeakMap<Ctx, Orphan[]>()

function orphans(ctx: Ctx): Orphan[] {
  let known = found.get(ctx)
  if (!known) found.set(ctx, (known = findOrphans(ctx)))
  return known
}

function findOrphans(ctx: Ctx): Orphan[] {
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
  return found
}

/**
 * The GPU memory the orphan held: its own where nvidia-smi listed its PID;
 * else the devices' use, when no other runner was alive to share it.
 */
function gpuHeld(ctx: Ctx, o: Orphan): { text: string; figures: Record<string, number> } {
  const own = ownGpu(ctx, o.runner.pid, o.fromMs, o.toMs)
  if (own) return { text: ` and ${gib(own.v)} of GPU memory (${gpuSourceOf(ctx.trace, o.runner.pid, own.t)}, ${ctx.at(own.t)})`, figures: { gpuProcessBytes: own.v } }
  // Without its own figure, the devices' use counts only while no other runner was alive: up to the next one's start.
  const others = ctx.runners.filter(s => s !== o.runner && lastMs(s) >= o.fromMs && firstMs(s) <= o.toMs)
  if (others.some(s => firstMs(s) <= o.fromMs)) return { text: '', figures: {} }
  const until = Math.min(o.toMs, ...others.map(s => firstMs(s) - 1))
  const dev = gpuPeak(ctx, o.fromMs, until)
  if (!dev) return { text: '', figures: {} }
  const note = "the device's figure, all GPUs, while no other runner was alive; the GPU gave none per process"
  return { text: ` and ${gib(dev.v)} of GPU memory in use (${ctx.at(dev.t)}; ${note})`, figures: { gpuUsedBytes: dev.v } }
}

/**
 * What the orphan's GPU memory cost: the GPU nearly full while it was
 * orphaned, and a runner started then that Ollama put partly on the CPU.
 */
function cost(ctx: Ctx, o: Orphan): { text: string; figures: Record<string, number> } {
  const least = gpuLeastFree(ctx, o.fromMs, o.toMs)
  if (!least || (least.v / least.total) * 100 >= GPU_SHORT_PCT) return { text: '', figures: {} }
  let text = ` Meanwhile the GPU was down to ${gib(least.v)} free of ${gib(least.total)} (${ctx.at(least.t)})`
  for (const s of ctx.runners) {
    if (s === o.runner || !s.model || firstMs(s) < o.fromMs || firstMs(s) > o.toMs) continue
    const snap = snapsFor(ctx, s, firstMs(s), lastMs(s)).find(x => listing(x, s.model as string, ctx.serverOf(s)))
    const m = snap && listing(snap, s.model, ctx.serverOf(s))
    if (m && m.sizeVramBytes !== undefined && m.sizeVramBytes < m.sizeBytes) {
      text += `, and ${s.model}, started at ${ctx.at(firstMs(s))}, got ${gib(m.sizeVramBytes)} of its ${gib(m.sizeBytes)} on the GPU (${snap ? listSource(snap) : ''} at ${ctx.at(snap.tsMs)}), the rest on the CPU`
      break
    }
  }
  return { text: `${text}.`, figures: { gpuFreeBytes: least.v } }
}

function one(ctx: Ctx, o: Orphan): Draft {
  const held = peakRss(o.runner, o.fromMs, o.toMs)
  const gpu = gpuHeld(ctx, o)
  const hurt = gpu.text ? cost(ctx, o) : { text: '', figures: {} }
  const until = o.toEnd ? (lastMs(o.runner) >= ctx.trace.endMs - ctx.procPeriodMs ? 'until the end of the trace' : `until it exited at ${ctx.at(o.toMs)}`) : `until it was listed again at ${ctx.at(o.toMs)}`
  const text =
    `${cap(runnerName(o.runner))} was alive while ${o.source} ${o.wasListed ? 'no longer listed' : 'did not list'} ${o.runner.model}: from ${ctx.at(o.fromMs)} ${until} (${formatDuration(o.toMs - o.fromMs)}), ` +
    `an orphan runner${held ? ` holding up to ${gib(held.v)} RSS (${ctx.at(held.t)})${gpu.text}` : gpu.text}.${hurt.text}`
  return draft('orphan-runner', o.fromMs, o.toMs, [o.runner], text, { durationMs: o.toMs - o.fromMs, ...(held ? { rssBytes: held.v } : {}), ...gpu.figures, ...hurt.figures })
}

function many(ctx: Ctx, g: Orphan[]): Draft {
  const total = g.reduce((a, o) => a + (o.toMs - o.fromMs), 0)
  const first = g[0] as Orphan
  const runners = [...new Set(g.map(o => o.runner))]
  // The most GPU memory one of them held, by nvidia-smi's rows for its PID.
  const own = g.map(o => ({ o, at: ownGpu(ctx, o.runner.pid, o.fromMs, o.toMs) })).reduce<{ o: Orphan; at: At } | undefined>((a, x) => (x.at && (!a || x.at.v > a.at.v) ? { o: x.o, at: x.at } : a), undefined)
  const gpu = own ? `; pid ${own.o.runner.pid} held up to ${gib(own.at.v)} of GPU memory (${gpuSourceOf(ctx.trace, own.o.runner.pid, own.at.t)}, ${ctx.at(own.at.t)})` : ''
  const text =
    `${g.length} times a runner of ${join(modelsOf(runners))}${first.runner.server ? ` (server ${first.runner.server})` : ''} was alive while ${first.source} ${g.every(o => o.wasListed) ? 'no longer listed' : 'did not list'} its model ` +
    `(${someOf(g, o => `pid ${o.runner.pid} from ${ctx.at(o.fromMs)}`)}; ${formatDuration(total)} in all): orphan runners${gpu}.`
  return draft('orphan-runner', first.fromMs, Math.max(...g.map(o => o.toMs)), runners, text, { durationMs: total, intervals: g.length, ...(own ? { gpuProcessBytes: own.at.v } : {}) })
}
