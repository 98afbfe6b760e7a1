/** The server's decisions as marks on the chart's time axis: evicted, fits alongside, context reduced, OOM retry, killed, load failed. Pure. */
import type { ServerEvent } from '../../schemas/index.js'
import { gib } from '../../core/units.js'
import type { Ctx } from './context.js'
import { evicted, nameOf, placed } from './decisions.js'
import { endedAt, lastSeries } from './oom-kill.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { type Load, loadModel } from './loads.js'

/** A kill the daemon saw and a runner's end the log reports this close together are one. */
const KILL_SAME_MS = 15_000

export interface ServerMark {
  ms: number
  /** A word or two at the top of the panel, with the runner's model where known. */
  label: string
  /** The same without the model. */
  brief: string
  /** The sentence for the list below the chart, when the labels are numbered. */
  text: string
}

function mark(ctx: Ctx, e: ServerEvent, ms: number, load: Load | undefined): { label: string; text: string } | undefined {
  const model = load ? loadModel(load) : undefined
  const f = e.figures ?? {}
  const pred = f.predictedBytes ?? f.requiredBytes
  const avail = f.availableBytes ?? f.freeBytes
  const figs = pred !== undefined ? ` (predicted ${gib(pred)}${avail !== undefined ? `, ${gib(avail)} available` : ''})` : ''
  switch (e.kind) {
    case 'eviction': {
      if (f.count !== undefined && pred === undefined) return { label: 'OOM retry', text: `Ollama evicted every other model (${f.count}) to retry a load${model ? ` of ${model}` : ''}` }
      const gone = evicted(ctx, ms, load?.runner)
      return { label: gone ? `evicted ${short(ctx, gone)}` : 'evicted', text: `Ollama evicted ${gone ? nameOf(ctx, gone) : 'a model'}${model ? ` to load ${model}` : ''}${figs}` }
    }
    case 'fits':
      return { label: 'fits', text: `Ollama: ${model ?? 'a model'} fits alongside the loaded ones${figs}` }
    case 'retry':
      if (f.oldNumCtx !== undefined && f.newNumCtx !== undefined) return { label: `context ${f.oldNumCtx}→${f.newNumCtx}`, text: `a load${model ? ` of ${model}` : ''} failed; Ollama retried with context ${f.oldNumCtx} → ${f.newNumCtx}` }
      return { label: 'OOM retry', text: `a load${model ? ` of ${model}` : ''} failed; Ollama evicted every other model to retry` }
    case 'load-failed':
      return { label: 'load failed', text: `loading ${model ?? 'a model'} failed` }
    case 'oom':
      return { label: 'runtime OOM', text: `the runner${model ? ` for ${model}` : ''} ran out of memory` }
    case 'runner-stopped': {
      const s = endedAt(ctx, ms)
      const who = s ? nameOf(ctx, s) : 'a runner'
      return e.signal === 'killed'
        ? { label: s ? `killed ${short(ctx, s)}` : 'killed', text: `${who} was killed (signal: killed)` }
        : { label: 'runner died', text: `${who} stopped${e.exitCode !== undefined ? ` (exit status ${e.exitCode})` : e.signal ? ` (signal: ${e.signal})` : ''}` }
    }
    case 'kernel-oom-kill':
      return { label: 'OOM killed', text: `the kernel's OOM killer killed PID ${e.pid}${e.process ? ` (${e.process})` : ''}` }
    default:
      return undefined
  }
}

/** `evicted qwen3:8b` → `evicted`: the label's first words, without the model. */
function briefOf(label: string): string {
  return /^(?:evicted|killed|OOM killed)\b/.exec(label)?.[0] ?? label
}

/** A runner's model for a label: its name, else its blob cut short. */
function short(ctx: Ctx, s: ProcSeries): string {
  return nameOf(ctx, s).replace(/^runner PID \d+ for /, '')
}

/** Every decision of the log within the trace, and every OOM kill the daemon saw, in time order. */
export function serverMarks(ctx: Ctx): ServerMark[] {
  const out: ServerMark[] = []
  const loadOf = new Map<ServerEvent, Load>()
  for (const l of ctx.server?.loads ?? []) for (const e of l.events) loadOf.set(e, l)
  const kernelPids = new Set<number>()
  for (const e of ctx.trace.events) {
    if (e.kind !== 'oom-kill') continue
    if (e.pid !== undefined) kernelPids.add(e.pid)
    const ms = Date.parse(e.ts)
    const s = e.pid !== undefined ? lastSeries(ctx.trace.procs, e.pid, ms) : undefined
    const model = s?.role === 'runner' ? short(ctx, s) : undefined
    out.push({ ms, label: model ? `OOM killed ${model}` : 'OOM killed', brief: 'OOM killed', text: `the kernel's OOM killer killed ${s?.role === 'runner' ? nameOf(ctx, s) : `PID ${e.pid ?? '?'}${e.text ? ` (${e.text})` : ''}`}` })
  }
  const killsAt = out.map(m => m.ms)
  for (const e of ctx.server?.events ?? []) {
    const ms = placed(ctx, e)
    if (ms === undefined || (e.kind === 'kernel-oom-kill' && e.pid !== undefined && kernelPids.has(e.pid))) continue
    // The log's "signal: killed" for a kill the daemon saw is the same kill: one mark.
    if (e.kind === 'runner-stopped' && e.signal === 'killed' && killsAt.some(k => Math.abs(k - ms) <= KILL_SAME_MS)) continue
    const m = mark(ctx, e, ms, loadOf.get(e))
    if (m) out.push({ ms, ...m, brief: briefOf(m.label) })
  }
  return out.sort((a, b) => a.ms - b.ms)
}
