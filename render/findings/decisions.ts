/**
 * What Ollama's log says it decided: a model evicted to make room (with the
 * prediction and the free figure that forced it, and how often), and a load
 * that failed or was retried with a smaller context. Pure.
 */
import type { ServerEvent } from '../../schemas/index.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { clip } from '../../core/svg.js'
import { shortBlob } from '../../core/model/roles.js'
import { type Ctx, type Draft, draft, gib, lastMs, lines, range, runnerName, sampledAfter, someOf } from './context.js'
import { eventMs, type Load, loadModel } from './loads.js'

/** The server's lines count when they fall within the trace, or this close to it. */
export const SERVER_SLACK_MS = 60_000

/** The time of a server line when the chart can place it: it has one, and it is within the trace. */
export function placed(ctx: Ctx, e: ServerEvent): number | undefined {
  const ms = eventMs(e)
  if (ms === undefined || Number.isNaN(ms)) return undefined
  return ms >= ctx.trace.startMs - SERVER_SLACK_MS && ms <= ctx.trace.endMs + SERVER_SLACK_MS ? ms : undefined
}

/** A runner's name, with the model the server's log or the daemon gave when the trace knows only its blob. */
export function nameOf(ctx: Ctx, s: ProcSeries, fallback?: string): string {
  if (s.model && s.modelSource !== 'blob') return runnerName(s)
  const load = ctx.server?.loads.find(l => l.runner === s)
  const name = fallback ?? (load?.name && !load.name.includes('/') ? load.name : undefined) ?? (s.model ? undefined : s.blob && shortBlob(s.blob))
  return name ? `runner PID ${s.pid} for ${name}` : runnerName(s)
}

interface Eviction {
  load: Load
  e: ServerEvent
  ms: number
  /** The runner that ended just after the line: the one evicted. */
  gone?: ProcSeries
}

/** The runner, other than the one loading, whose last sample came just before or after `ms` and that was really gone after. */
export function evicted(ctx: Ctx, ms: number, loading: ProcSeries | undefined): ProcSeries | undefined {
  let best: ProcSeries | undefined
  for (const s of ctx.runners) {
    if (s === loading) continue
    const end = lastMs(s)
    if (end < ms - 2 * ctx.procPeriodMs || end > ms + 30_000 || !sampledAfter(ctx, end)) continue
    if (!best || end < lastMs(best)) best = s
  }
  return best
}

/** `limited by system memory: 7.2 GiB free (the GPU had 14.8 GiB)` from the line's own figures. */
function why(e: ServerEvent): string {
  const f = e.figures ?? {}
  const predicted = f.predictedBytes ?? f.requiredBytes
  const avail = f.availableBytes ?? f.freeBytes
  let text = predicted !== undefined ? `it predicted ${gib(predicted)}${avail !== undefined ? ` against ${gib(avail)} available` : ''}` : 'it gave no prediction'
  if (e.systemLimited === true) text += `, limited by system memory (${f.systemFreeBytes !== undefined ? `${gib(f.systemFreeBytes)} free` : 'free figure not given'}${f.gpuFreeBytes !== undefined ? `; the GPU had ${gib(f.gpuFreeBytes)} free` : ''})`
  else if (e.systemLimited === false) text += `, limited by GPU memory (${f.gpuFreeBytes !== undefined ? `${gib(f.gpuFreeBytes)} free` : 'free figure not given'}${f.systemFreeBytes !== undefined ? `; system memory had ${gib(f.systemFreeBytes)} free` : ''})`
  return text
}

function figuresOf(e: ServerEvent): Record<string, number> {
  const f = e.figures ?? {}
  const out: Record<string, number> = {}
  for (const k of ['predictedBytes', 'requiredBytes', 'availableBytes', 'freeBytes', 'systemFreeBytes', 'gpuFreeBytes'] as const) if (f[k] !== undefined) out[k] = f[k] as number
  return out
}

export function evictionFindings(ctx: Ctx): Draft[] {
  const found: Eviction[] = []
  for (const load of ctx.server?.loads ?? []) {
    for (const e of load.decisions) {
      const ms = e.kind === 'eviction' ? placed(ctx, e) : undefined
      if (ms === undefined) continue
      const gone = evicted(ctx, ms, load.runner)
      found.push({ load, e, ms, ...(gone ? { gone } : {}) })
    }
  }
  return lines(found, v => loadModel(v.load), v => one(ctx, v), g => many(ctx, g))
}

function one(ctx: Ctx, v: Eviction): Draft {
  const model = loadModel(v.load)
  const who = v.gone ? nameOf(ctx, v.gone) : 'a model'
  const text = `Ollama evicted ${who} at ${ctx.at(v.ms)} to load ${model}: ${why(v.e)}.`
  return draft('eviction', v.ms, undefined, [v.gone, v.load.runner].filter((s): s is ProcSeries => s !== undefined), text, figuresOf(v.e))
}

function many(ctx: Ctx, g: Eviction[]): Draft {
  const models = [...new Set(g.map(v => loadModel(v.load)))]
  const first = g[0] as Eviction
  const last = g[g.length - 1] as Eviction
  const predicted = g.map(v => v.e.figures?.predictedBytes ?? v.e.figures?.requiredBytes).filter((b): b is number => b !== undefined)
  const avail = g.map(v => v.e.figures?.availableBytes ?? v.e.figures?.freeBytes).filter((b): b is number => b !== undefined)
  const system = g.filter(v => v.e.systemLimited === true).length
  const gpu = g.filter(v => v.e.systemLimited === false).length
  let text = `Ollama evicted a runner ${g.length} times to load ${someOf(models, m => m, ', ', 3)}, from ${ctx.at(first.ms)} to ${ctx.at(last.ms)}`
  // A few are said one by one, each prediction with the free figure it met; more, as ranges.
  const pairs = g.map(v => {
    const f = v.e.figures ?? {}
    const p = f.predictedBytes ?? f.requiredBytes
    const a = f.availableBytes ?? f.freeBytes
    return p !== undefined && a !== undefined ? `${ctx.at(v.ms)}: ${gib(p)} against ${gib(a)}` : undefined
  })
  if (g.length <= 4 && pairs.every(x => x !== undefined)) text += `: it predicted ${pairs.join('; ')} available`
  else if (predicted.length) text += `: it predicted ${range(predicted)}${avail.length ? ` against ${range(avail)} available` : ''}`
  if (system || gpu) text += `, limited by ${system && gpu ? `system memory ${system} times and GPU memory ${gpu} times` : system ? 'system memory' : 'GPU memory'}`
  const gone = g.map(v => v.gone).filter((s): s is ProcSeries => s !== undefined)
  if (gone.length) text += `. Evicted: ${someOf(gone, s => nameOf(ctx, s), ', ', 3)}`
  const figures: Record<string, number> = { count: g.length }
  if (predicted.length) figures.predictedBytes = Math.max(...predicted)
  if (avail.length) figures.availableBytes = Math.min(...avail)
  return draft('eviction', first.ms, last.ms, gone, `${text}.`, figures)
}

/** What a failed load said, cut to a sentence's length. */
const said = (e: ServerEvent) => (e.text ? `: ${clip(e.text, 160)}` : '')

/** A load that failed, was retried with a smaller context or with every other model evicted, or a runner that ran out of memory while running. */
export function loadFailedFindings(ctx: Ctx): Draft[] {
  const out: Draft[] = []
  for (const load of ctx.server?.loads ?? []) {
    const fail = load.failed.find(e => e.kind === 'load-failed' && placed(ctx, e) !== undefined)
    const retry = load.retries.find(e => placed(ctx, e) !== undefined)
    const oom = load.failed.filter(e => e.kind === 'oom' && placed(ctx, e) !== undefined)
    const model = loadModel(load)
    const runners = load.runner ? [load.runner] : []
    if (fail || retry) {
      const at = placed(ctx, (fail ?? retry) as ServerEvent) as number
      let text = `Loading ${model} failed at ${ctx.at(at)}${said((fail ?? retry) as ServerEvent)}`
      const figures: Record<string, number> = {}
      const req = fail?.figures?.requiredBytes
      const avail = fail?.figures?.availableBytes
      if (req !== undefined && avail !== undefined) {
        figures.requiredBytes = req
        figures.availableBytes = avail
      }
      if (retry) {
        const f = retry.figures ?? {}
        if (f.oldNumCtx !== undefined && f.newNumCtx !== undefined) {
          text += `. Ollama retried with the context cut from ${f.oldNumCtx} to ${f.newNumCtx}${retry.evictAll ? ', evicting every other model first' : ''}`
          figures.oldNumCtx = f.oldNumCtx
          figures.newNumCtx = f.newNumCtx
        } else text += `. Ollama evicted every other model${f.count !== undefined ? ` (${f.count} loaded)` : ''} and retried`
      }
      out.push(draft('load-failed', at, undefined, runners, `${text}.`, figures))
    }
    for (const e of oom) {
      const at = placed(ctx, e) as number
      const f = e.figures?.sizeBytes
      const text = f !== undefined ? `The runner for ${model} could not get ${gib(f)} of pinned memory at ${ctx.at(at)}.` : `The runner for ${model} ran out of memory while running, at ${ctx.at(at)}${said(e)}; Ollama expired the loaded models to clear memory.`
      out.push(draft('load-failed', at, undefined, runners, text, f !== undefined ? { sizeBytes: f } : {}))
    }
  }
  return out
}
