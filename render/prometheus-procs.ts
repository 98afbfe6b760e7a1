/**
 * The process TSV of `render --prometheus`: each traced process as a row, the
 * way the daemon writes them. From `memtrace_process_pid_resident_bytes` each
 * process keeps its own PID and parent, so two runners of one model stay two
 * lines and each runner stays under its server; from a daemon that exports
 * only `memtrace_process_resident_bytes` (one RSS per role and model), each
 * model is one row under the first runner's PID, as before. And where the
 * system blocks go: once per system sample, at its tick. Pure.
 */
import { formatTs } from '../core/parse/time.js'
import { TSV_HEADER } from '../core/parse/proc-tsv.js'
import type { Series } from './prometheus-api.js'

/** A label that must be a whole number (a PID, a GPU index), else undefined. */
export const whole = (v: string | undefined) => (v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : undefined)

/** Values by time (ms) of the series that match `pick`, summed. */
export function byTime(series: Series[], pick: (m: Record<string, string>) => boolean = () => true): Map<number, number> {
  const out = new Map<number, number>()
  for (const s of series.filter(x => pick(x.metric))) s.ts.forEach((t, i) => out.set(t, (out.get(t) ?? 0) + (s.values[i] as number)))
  return out
}

export interface ProcRows {
  tsv: string
  /** The runners' PIDs by time and model: whose row a model's GPU memory goes to. */
  runnerPids: Map<string, number[]>
  notes: string[]
}

/** The command line a row carries: made of the role and the model only. A runner the daemon could not name gets a blob path, so that /api/ps names it by size as in any trace. */
function command(role: string | undefined, model: string, pid: number): string {
  if (role === 'server') return 'ollama serve'
  if (role !== 'runner') return 'other'
  return `ollama runner --model ${model === 'unknown' ? `/prometheus/blobs/sha256-${String(pid).padStart(64, '0')}` : model}`
}

const key = (t: number, model: string) => `${t}\u0000${model}`

export function procRows(times: number[], q: { byPid: Series[]; resident: Series[]; info: Series[] }): ProcRows {
  const rows = new Map<number, string[]>()
  const runnerPids = new Map<string, number[]>()
  const notes: string[] = []
  const add = (t: number, pid: number, ppid: number, role: string | undefined, model: string, bytes: number) => {
    const comm = role === 'server' || role === 'runner' ? 'ollama' : 'other'
    rows.set(t, [...(rows.get(t) ?? []), `${formatTs(t)}\t${pid}\t${ppid}\t${comm}\t${Math.round(bytes / 1024)}\t0\t${command(role, model, pid)}\n`])
    if (role === 'runner') runnerPids.set(key(t, model), [...(runnerPids.get(key(t, model)) ?? []), pid])
  }
  if (q.byPid.length > 0) {
    for (const s of q.byPid) {
      const pid = whole(s.metric.pid)
      if (pid === undefined) continue
      const ppid = whole(s.metric.ppid) ?? 0
      s.ts.forEach((t, i) => add(t, pid, ppid, s.metric.role, s.metric.role === 'runner' ? (s.metric.model ?? 'unknown') : '', s.values[i] as number))
    }
  } else {
    // A daemon before per-process series: one RSS per model, drawn under the first runner runner_info names.
    const server = byTime(q.resident, m => m.role === 'server')
    for (const [t, v] of server) add(t, 0, 0, 'server', '', v)
    const infoAt = new Map<number, Record<string, string>[]>()
    for (const s of q.info) for (const t of s.ts) infoAt.set(t, [...(infoAt.get(t) ?? []), s.metric])
    let shared = 0
    for (const s of q.resident.filter(x => x.metric.role === 'runner')) {
      const model = s.metric.model ?? ''
      s.ts.forEach((t, i) => {
        const infos = (infoAt.get(t) ?? []).filter(x => (x.model ?? '') === model)
        if (infos.length === 0) return
        if (infos.length > 1) shared++
        const first = infos.sort((a, b) => Number(a.pid) - Number(b.pid))[0] as Record<string, string>
        add(t, whole(first.pid) ?? 0, 0, 'runner', model, s.values[i] as number)
      })
    }
    if (shared > 0) notes.push(`At ${shared} point(s) two runners of one model were alive: this daemon exports their RSS together only, drawn on the first.`)
  }
  let tsv = TSV_HEADER
  for (const t of times) for (const row of rows.get(t) ?? []) tsv += row
  return { tsv, runnerPids, notes }
}

/**
 * Where the system blocks go: each system sample once, at the tick it was
 * taken for (`memtrace_last_sample_timestamp_seconds`, as the trace's block
 * carries it), read at the first point that has it; from a daemon without
 * that gauge, at the points where its `memtrace_samples_total` moved; from
 * one with neither, at every point. `t` is the point the figures are read
 * at, `atMs` the block's time. A sample taken before the first point is left
 * out: its listing would be read beside runners that started since.
 */
export function systemBlocks(times: number[], q: { sampleTime: Series[]; samples: Series[] }): { blocks: { t: number; atMs: number }[]; by: 'tick' | 'counter' | 'every' } {
  const tick = q.sampleTime.find(x => x.metric.kind === 'system')
  const counter = q.samples.find(x => x.metric.kind === 'system')
  const blocks: { t: number; atMs: number }[] = []
  const first = times[0] ?? 0
  if (tick) {
    tick.ts.forEach((t, i) => {
      if (i > 0 && tick.values[i] === tick.values[i - 1]) return
      const atMs = Math.round((tick.values[i] as number) * 1000)
      const last = blocks.at(-1)?.atMs ?? -Infinity
      // A tick after its point, or not after the last, is no tick of this daemon's: the point's time stands.
      const at = atMs <= t && atMs > last ? atMs : t
      if (at >= first && at > last) blocks.push({ t, atMs: at })
    })
    return { blocks, by: 'tick' }
  }
  if (counter) {
    counter.ts.forEach((t, i) => {
      if (i === 0 || counter.values[i] !== counter.values[i - 1]) blocks.push({ t, atMs: t })
    })
    return { blocks, by: 'counter' }
  }
  return { blocks: times.map(t => ({ t, atMs: t })), by: 'every' }
}

/** The typical time between two of `times` in ms (their median gap), or undefined with fewer than two. */
export function medianGapMs(times: Iterable<number>): number | undefined {
  const sorted = [...times].sort((a, b) => a - b)
  const gaps = sorted.slice(1).map((t, i) => t - (sorted[i] as number)).sort((a, b) => a - b)
  return gaps.length ? gaps[Math.floor(gaps.length / 2)] : undefined
}
