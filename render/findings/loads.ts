/**
 * The server's log told load by load, each tied to the runner it started:
 * Ollama's prediction and decision before it, what llama.cpp or Ollama's
 * engine allocated on each device, and how it ended. Pure.
 *
 * A load begins with the lines Ollama writes before starting a runner (its
 * estimate, "fits alongside", "evicting") or with the start itself, and takes
 * the lines after it in the log's order (the allocations, "started in",
 * "Load failed", the retry). It is tied to a runner of the trace by the
 * port in both its start line and the runner's argv, else by the model's
 * weights blob, else by time: the one runner that appeared within a minute
 * after the start. A load that ties to none is still the server's.
 */
import type { ServerEvent } from '../../schemas/index.js'
import type { ProcSeries, Trace } from '../../core/model/trace.js'
import { shortBlob } from '../../core/model/roles.js'
import { lowerBound } from './lookup.js'

export interface Load {
  /** Its lines, in the log's order. */
  events: ServerEvent[]
  starting?: ServerEvent
  /** `fits alongside` and `evicting` lines before the start, in order. */
  decisions: ServerEvent[]
  estimate?: ServerEvent
  /** `Load failed`, `runtime OOM detected`, pinned memory that could not be had. */
  failed: ServerEvent[]
  retries: ServerEvent[]
  allocations: ServerEvent[]
  started?: ServerEvent
  /** The weights blob (`sha256-…`), from the start line or a model= key. */
  blob?: string
  /** A model name a line gave (MLX's lines name the model, not its blob). */
  name?: string
  port?: number
  /** The runner's PID, where a line names it (MLX's scheduler line). */
  pid?: number
  runner?: ProcSeries
  /** How the runner was tied to it. */
  tiedBy?: 'pid' | 'port' | 'blob' | 'model' | 'time'
}

/** What a load allocated: in system RAM, on the GPU (or unified memory), and in all. */
export interface Allocated {
  systemBytes: number
  deviceBytes: number
  totalBytes: number
  /** Where the figure comes from: Ollama's `total memory` line, or the sum of the buffers. */
  from: 'total' | 'buffers' | 'scheduler'
}

/** A runner's three figures side by side. */
export interface RunnerFigures {
  load: Load
  runner?: ProcSeries
  /** Ollama's prediction of the whole model, and the line it comes from. */
  predicted?: { bytes: number; event: ServerEvent }
  allocated?: Allocated
  /** Peak RSS, and the most GPU memory nvidia-smi or Windows' GPU counters listed for its PID. */
  rssBytes?: number
  gpuBytes?: number
}

const BEFORE = new Set<ServerEvent['kind']>(['estimate', 'eviction', 'fits'])
const AFTER = new Set<ServerEvent['kind']>(['allocation', 'offloaded', 'device-free', 'load-request', 'runner-started', 'working-set', 'peak-memory'])
/** A runner is tied by time when it appeared this long after its start line at most. */
const START_WINDOW_MS = 60_000
/** Or up to this much before it: the two clocks are one machine's, read a moment apart. */
const CLOCK_SLACK_MS = 2_000

export const eventMs = (e: ServerEvent): number | undefined => (e.ts === undefined ? undefined : Date.parse(e.ts))

/** `sha256-<64 hex>` from a path, a blob name or a digest; undefined for a model name. */
export function blobOf(model: string | undefined): string | undefined {
  const m = /sha256[-:]([0-9a-f]{64})/.exec(model ?? '')
  return m ? `sha256-${m[1]}` : undefined
}

/** A load past its start (or with a runner running), or past its failure: what comes before a start after it is the next load's. */
const ended = (l: Load) => l.starting !== undefined || l.started !== undefined || l.pid !== undefined || l.failed.length > 0 || l.retries.length > 0

/** Groups the log's lines into loads, in the log's order. */
export function groupLoads(events: ServerEvent[]): Load[] {
  const loads: Load[] = []
  let cur: Load | undefined
  const fresh = (): Load => {
    const l: Load = { events: [], decisions: [], failed: [], retries: [], allocations: [] }
    loads.push(l)
    return l
  }
  const name = (l: Load, e: ServerEvent) => {
    const blob = blobOf(e.model)
    if (blob) l.blob ??= blob
    else if (e.model) l.name ??= e.model
  }
  for (const e of events) {
    // "evicting all other loaded models for OOM retry": part of the retry of the load in progress, not a decision before a new one.
    const oomRetry = e.kind === 'eviction' && e.figures?.count !== undefined && e.figures.predictedBytes === undefined && e.figures.requiredBytes === undefined
    if (oomRetry) {
      cur?.events.push(e)
    } else if (BEFORE.has(e.kind) && !(e.kind === 'estimate' && e.component === 'projector')) {
      // A decision after the start belongs to the next load (an OOM retry's eviction excepted: it has no figures).
      if (!cur || ended(cur)) cur = fresh()
      cur.events.push(e)
      if (e.kind === 'estimate') cur.estimate = e
      else cur.decisions.push(e)
      name(cur, e)
    } else if (e.kind === 'runner-starting') {
      if (!cur || ended(cur)) cur = fresh()
      cur.events.push(e)
      cur.starting = e
      if (e.port !== undefined) cur.port = e.port
      name(cur, e)
    } else if (e.kind === 'allocation' && e.pid !== undefined) {
      // The scheduler's own line for a runner names its PID: the load in progress when it is that one's, else a load of its own.
      if (!cur || (cur.pid !== undefined && cur.pid !== e.pid) || (cur.name !== undefined && e.model !== undefined && !e.model.endsWith(cur.name))) cur = fresh()
      cur.events.push(e)
      cur.allocations.push(e)
      cur.pid = e.pid
      if (!cur.name && !cur.blob) name(cur, e)
    } else if (cur && (AFTER.has(e.kind) || (e.kind === 'estimate' && e.component === 'projector'))) {
      cur.events.push(e)
      if (e.kind === 'allocation') cur.allocations.push(e)
      if (e.kind === 'runner-started') cur.started = e
    } else if (e.kind === 'load-failed' || e.kind === 'oom' || e.kind === 'retry') {
      const blob = blobOf(e.model)
      // Tied by its model when it names one, else to the load in progress; a model no load has is a load of its own.
      let to = (blob && [...loads].reverse().find(l => l.blob === blob)) || (blob && cur?.blob && cur.blob !== blob ? undefined : cur)
      if (!to) {
        to = cur = fresh()
        name(to, e)
      }
      to.events.push(e)
      if (e.kind === 'retry') to.retries.push(e)
      else to.failed.push(e)
    }
  }
  return loads
}

/** A runner whose argv has `--port N`. */
function portOf(s: ProcSeries): number | undefined {
  const m = /\s--port[\s=](\d{1,5})\b/.exec(` ${s.command}`)
  return m ? Number(m[1]) : undefined
}

/** The load's first time, when any of its lines has one. */
export function loadMs(l: Load): number | undefined {
  for (const e of l.events) {
    const ms = eventMs(e)
    if (ms !== undefined && !Number.isNaN(ms)) return ms
  }
  return undefined
}

/**
 * Ties each load to a runner of the trace, each runner to one load at most:
 * by port, then blob, then name (the runner that appeared nearest after the
 * load's start, when the log has times; the only candidate when it has none),
 * then by time alone.
 */
export function tieLoads(loads: Load[], trace: Trace): void {
  const runners = trace.procs.filter(s => s.role === 'runner')
  const taken = new Set<ProcSeries>()
  const pick = (l: Load, candidates: ProcSeries[]): ProcSeries | undefined => {
    const free = candidates.filter(s => !taken.has(s))
    const at = loadMs(l)
    if (at === undefined) return free.length === 1 ? free[0] : undefined
    let best: ProcSeries | undefined
    for (const s of free) {
      const d = (s.tsMs[0] as number) - at
      // A runner already there when the trace began may be this load's, however long before.
      const there = (s.tsMs[0] as number) <= trace.startMs + CLOCK_SLACK_MS && at <= (s.tsMs[0] as number)
      if ((d >= -CLOCK_SLACK_MS && d <= START_WINDOW_MS) || there) if (!best || Math.abs(d) < Math.abs((best.tsMs[0] as number) - at)) best = s
    }
    return best
  }
  const index = (key: (s: ProcSeries) => string | number | undefined) => {
    const m = new Map<string | number, ProcSeries[]>()
    for (const s of runners) {
      const k = key(s)
      if (k === undefined) continue
      const list = m.get(k)
      if (list) list.push(s)
      else m.set(k, [s])
    }
    return m
  }
  const rules: [(l: Load) => string | number | undefined, Map<string | number, ProcSeries[]>, NonNullable<Load['tiedBy']>][] = [
    [l => l.pid, index(s => s.pid), 'pid'],
    [l => l.port, index(portOf), 'port'],
    [l => l.blob, index(s => s.blob), 'blob'],
    [l => l.name, index(s => s.model), 'model'],
  ]
  // A PID names the runner alive then (its line comes after the start); the other keys, the runner that started then.
  const alive = (l: Load, candidates: ProcSeries[]): ProcSeries | undefined => {
    const at = loadMs(l)
    const free = candidates.filter(s => !taken.has(s))
    if (at === undefined) return free.length === 1 ? free[0] : undefined
    return free.find(s => (s.tsMs[0] as number) - CLOCK_SLACK_MS <= at && at <= (s.tsMs[s.tsMs.length - 1] as number) + CLOCK_SLACK_MS)
  }
  for (const [key, byKey, by] of rules) {
    for (const l of loads) {
      const k = key(l)
      if (l.runner || k === undefined) continue
      const s = (by === 'pid' ? alive : pick)(l, byKey.get(k) ?? [])
      if (s) {
        l.runner = s
        l.tiedBy = by
        taken.add(s)
      }
    }
  }
  const byStart = [...runners].sort((a, b) => (a.tsMs[0] as number) - (b.tsMs[0] as number))
  const starts = byStart.map(s => s.tsMs[0] as number)
  for (const l of loads) {
    const at = loadMs(l)
    if (l.runner || !l.starting || at === undefined) continue
    const near = byStart.slice(lowerBound(starts, at - CLOCK_SLACK_MS), lowerBound(starts, at + START_WINDOW_MS + 1))
    // By time alone only when one runner appeared then: two loads at once cannot be told apart.
    const s = near.filter(r => !taken.has(r)).length === 1 ? pick(l, near) : undefined
    if (s) {
      l.runner = s
      l.tiedBy = 'time'
      taken.add(s)
    }
  }
}

/**
 * What a load allocated, from its last lines for each device and component
 * (a fit tried again prints them again): Ollama's `total memory` when it
 * printed one, else the sum of the buffers; the scheduler's own figure for
 * an MLX runner. Undefined when the log has none.
 */
export function allocatedBy(l: Load): Allocated | undefined {
  const last = new Map<string, ServerEvent>()
  let total: number | undefined
  let scheduler: ServerEvent | undefined
  for (const e of l.allocations) {
    const size = e.figures?.sizeBytes
    if (size === undefined) continue
    if (e.figures?.vramBytes !== undefined || (e.component === 'total' && e.pid !== undefined)) scheduler = e
    else if (e.component === 'total') total = size
    else last.set(`${e.device ?? ''}\u0000${e.component ?? ''}`, e)
  }
  let systemBytes = 0
  let deviceBytes = 0
  for (const e of last.values()) {
    const size = e.figures?.sizeBytes as number
    if (e.onDevice === true) deviceBytes += size
    else systemBytes += size
  }
  if (last.size > 0) return { systemBytes, deviceBytes, totalBytes: total ?? systemBytes + deviceBytes, from: total !== undefined ? 'total' : 'buffers' }
  if (total !== undefined) return { systemBytes: 0, deviceBytes: 0, totalBytes: total, from: 'total' }
  if (scheduler) {
    const size = scheduler.figures?.sizeBytes as number
    const vram = scheduler.figures?.vramBytes ?? 0
    return { systemBytes: size - vram, deviceBytes: vram, totalBytes: size, from: 'scheduler' }
  }
  return undefined
}

/** Ollama's prediction of the whole model: the scheduler's `predicted=` (0.30 on), `required=`, or the estimate's full size. */
export function predictionOf(l: Load): { bytes: number; event: ServerEvent } | undefined {
  for (let i = l.decisions.length - 1; i >= 0; i--) {
    const e = l.decisions[i] as ServerEvent
    const b = e.figures?.predictedBytes ?? e.figures?.requiredBytes
    if (b !== undefined) return { bytes: b, event: e }
  }
  const full = l.estimate?.figures?.requiredFullBytes
  return full !== undefined && l.estimate ? { bytes: full, event: l.estimate } : undefined
}

/** The runner's peak RSS and GPU memory, from the trace. */
export function measured(trace: Trace, s: ProcSeries): { rssBytes: number; gpuBytes?: number } {
  const g = trace.gpuByPid.get(s.pid)
  let gpu: number | undefined
  if (g) for (let i = 0; i < g.tsMs.length; i++) if ((g.tsMs[i] as number) >= (s.tsMs[0] as number) && (gpu === undefined || (g.bytes[i] as number) > gpu)) gpu = g.bytes[i] as number
  return { rssBytes: s.peakRssKb * 1024, ...(gpu !== undefined ? { gpuBytes: gpu } : {}) }
}

/** Every load with what is known of its three figures. */
export function runnerFigures(loads: Load[], trace: Trace): RunnerFigures[] {
  return loads.map(load => {
    const f: RunnerFigures = { load }
    const p = predictionOf(load)
    if (p) f.predicted = p
    const a = allocatedBy(load)
    if (a) f.allocated = a
    if (load.runner) {
      f.runner = load.runner
      const m = measured(trace, load.runner)
      f.rssBytes = m.rssBytes
      if (m.gpuBytes !== undefined) f.gpuBytes = m.gpuBytes
    }
    return f
  })
}

/** The model a load is of: its runner's name, the name a line gave, or its blob, short. */
export function loadModel(l: Load): string {
  return l.runner?.model ?? l.name ?? (l.blob ? shortBlob(l.blob) : 'a model the log does not name')
}

/** `+62 %` / `−40 %`: how far the prediction is from the actual figure. */
export function errorPct(predicted: number, actual: number): number {
  return actual > 0 ? Math.round(((predicted - actual) / actual) * 1000) / 10 : NaN
}
