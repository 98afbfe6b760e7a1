import type { LoadedModel, Role, SystemSample, TraceEvent } from '../../schemas/index.js'
import type { ProcRow } from '../parse/proc-tsv.js'
import type { SystemBlock } from '../parse/system-log.js'
import { classify, modelFromArg, placeholderName } from './roles.js'
import { Column, SampleLog } from './samples.js'
import { SharedModels } from './shared-models.js'

/** One process over time: one line in the top panel. */
export interface ProcSeries {
  pid: number
  ppid: number
  comm: string
  command: string
  role: Role
  engine?: string
  blob?: string
  model?: string
  modelSource?: 'argv' | 'trace' | 'api-ps-match' | 'blob'
  /** With several servers on the host: the name of its server (`:11435`), for the legend and the findings. */
  server?: string
  /** Sample times and RSS, in time order: views of typed arrays that hold every process's samples. */
  tsMs: Float64Array
  rssKb: Float64Array
  peakRssKb: number
  /** False when rows arrived out of time order; sorted in finish(). */
  ordered: boolean
}

/** What the server said was loaded at one system sample. */
export interface Snapshot {
  tsMs: number
  models: LoadedModel[]
  /** With several servers: those whose listing this is (each model names its own). Absent: every server's. */
  servers?: string[]
}

/**
 * A placeholder that lives this many process samples or more is a process
 * whose arguments ps cannot read (Ollama run as root), and is traced; a
 * shorter one is a process starting or exiting (seed 002), and left out.
 */
export const PLACEHOLDER_MIN_SAMPLES = 5

/** Who gave a process's GPU memory: nvidia-smi's rows, or Windows' GPU Process Memory counters. */
export type GpuSource = 'nvidia-smi' | 'gpu-counters'

/**
 * A process's GPU memory over time; `from[i]`: who gave `bytes[i]`;
 * `shared[i]`: the counters' Shared Usage then (system RAM the GPU maps),
 * kept but never added to `bytes`; NaN where none was given.
 */
export type GpuSeries = { tsMs: number[]; bytes: number[]; from: GpuSource[]; shared: number[] }

export interface Trace {
  procs: ProcSeries[]
  /** Rows of short-lived placeholders left out. */
  placeholders: number
  /** Ollama processes whose arguments ps could not read, traced by their names only. */
  hiddenArgs: number
  sys: {
    tsMs: Float64Array
    fields: Map<string, Float64Array>
    platform: SystemSample['platform']
    memTotalBytes?: number
    /** The GPU shares system RAM (DGX Spark, Jetson, tegrastats seen): its allocations are system memory. */
    unifiedMemory?: boolean
    /** GPUs listed whose memory was never read (`GPU 0 (NVIDIA GB10)`), once each. */
    gpuUnread?: string[]
  }
  snapshots: Snapshot[]
  /** GPU memory listed per process (all GPUs together), by PID: samples in time order, and who gave them. */
  gpuByPid: Map<number, GpuSeries>
  events: TraceEvent[]
  startMs: number
  endMs: number
}

type Extract = (s: SystemSample) => number | undefined

/** Series the findings read that the chart does not draw. */
export const NOT_DRAWN: ReadonlySet<string> = new Set(['swap-total', 'paged-out'])

/** The system series drawn in the bottom panel, by platform (`swap-total` only tells whether there is swap at all; counters in NOT_DRAWN are read, not drawn). */
export const SYS_FIELDS: Record<'macos' | 'linux' | 'windows', Record<string, Extract>> = {
  macos: {
    wired: s => s.wiredBytes,
    compressor: s => s.compressorBytes,
    'swap-used': s => s.swapUsedBytes,
    'swap-total': s => s.swapTotalBytes,
    free: s => s.freeBytes,
    'free-pct': s => s.freePct,
    // Cumulative, in bytes: what the findings read for paging, never a line on the chart.
    'paged-out': s => (s.pageouts !== undefined ? s.pageouts * (s.pageSizeBytes ?? 16384) : undefined),
  },
  linux: {
    used: s => s.usedBytes,
    available: s => s.availableBytes,
    'swap-used': s => s.swapUsedBytes,
    'swap-total': s => s.swapTotalBytes,
    'cgroup-usage': s => s.cgroup?.usageBytes,
    'cgroup-limit': s => s.cgroup?.limitBytes ?? undefined,
    'free-pct': s => s.freePct,
    psi: s => s.pressure?.someAvg10,
  },
  // Commit charge against its limit: on Windows the limit, not physical memory, is what an allocation can run out of.
  windows: {
    used: s => s.usedBytes,
    available: s => s.availableBytes,
    commit: s => s.commitBytes,
    'commit-limit': s => s.commitLimitBytes,
    'free-pct': s => s.freePct,
  },
}

/** A process being read: its series, its number in the sample log, and how many samples it has so far and the last one's time. */
interface Growing {
  s: ProcSeries
  id: number
  n: number
  lastTs: number
}

/** Gathers rows and blocks as they stream by into per-process columns. */
export class TraceBuilder {
  readonly #live = new Map<number, Growing>()
  readonly #log = new SampleLog()
  readonly #procs: ProcSeries[] = []
  /** Every process begun (not placeholders), in order, with its samples. */
  readonly #begun: Growing[] = []
  #placeholders = 0
  /** Placeholder rows by PID, until the end tells how long each lived. */
  readonly #held = new Map<number, Growing>()
  #hiddenArgs = 0
  readonly #sysTs = new Column()
  readonly #fields = new Map<string, Column>()
  readonly #snapshots: Snapshot[] = []
  /** The models kept so far, by everything kept of them. */
  readonly #models = new SharedModels()
  readonly #gpuByPid = new Map<number, GpuSeries>()
  readonly #events: TraceEvent[] = []
  #platformVotes = { macos: 0, linux: 0, windows: 0, unknown: 0 }
  #unified = false
  /** GPUs seen without their memory, by index, less those whose memory was read at some sample. */
  readonly #gpuUnread = new Map<number, string>()
  readonly #gpuRead = new Set<number>()
  #memTotal: number | undefined
  #sysOrdered = true

  addProc(row: ProcRow): void {
    const r = row.sample
    this.addSample(row.tsMs, r.pid, r.ppid, r.comm, r.command, r.rssKb)
  }

  /** One process row, by its fields. */
  addSample(tsMs: number, pid: number, ppid: number, comm: string, command: string, rssKb: number): void {
    let g = this.#live.get(pid)
    // The common case first: the PID's process seen again. Its comm and command were no placeholder when it began.
    if (g && g.s.command === command && g.s.comm === comm) {
      this.#append(g, tsMs, rssKb)
      return
    }
    const hidden = placeholderName(comm, command)
    if (hidden !== undefined) {
      // Held until the end: how long it lived decides what it is.
      let h = this.#held.get(pid)
      if (!h || h.s.command !== command) this.#held.set(pid, (h = this.#growing(pid, ppid, comm, command)))
      this.#append(h, tsMs, rssKb)
      return
    }
    // A PID whose command changed is a new process (the PID was reused).
    if (!g || g.s.command !== command || g.s.comm !== comm) {
      g = this.#growing(pid, ppid, comm, command)
      this.#live.set(pid, g)
      this.#procs.push(g.s)
      this.#begun.push(g)
    }
    this.#append(g, tsMs, rssKb)
  }

  #growing(pid: number, ppid: number, comm: string, command: string): Growing {
    return { s: newSeries(pid, ppid, comm, command), id: this.#log.add(), n: 0, lastTs: NaN }
  }

  #append(g: Growing, tsMs: number, rssKb: number): void {
    if (g.n > 0) {
      if (tsMs === g.lastTs) return // a duplicate row of one sample
      if (tsMs < g.lastTs) g.s.ordered = false
    }
    this.#log.push(g.id, tsMs, rssKb)
    g.n++
    g.lastTs = tsMs
    if (rssKb > g.s.peakRssKb) g.s.peakRssKb = rssKb
  }

  addSystem(block: SystemBlock): void {
    const s = block.sample
    // A listing without command lines (tasklist, Get-Process) leaves the command empty: its arguments are unknown.
    for (const p of block.procs ?? []) this.addSample(block.tsMs, p.pid, p.ppid, p.name, p.command, p.rssKb)
    const i = this.#sysTs.length
    if (i > 0 && block.tsMs < this.#sysTs.last) this.#sysOrdered = false
    this.#sysTs.push(block.tsMs)
    this.#platformVotes[s.platform]++
    if (s.memTotalBytes !== undefined) this.#memTotal = s.memTotalBytes
    const put = (name: string, v: number | undefined) => {
      let arr = this.#fields.get(name)
      if (!arr) {
        arr = Column.ofNaN(i)
        this.#fields.set(name, arr)
      }
      arr.push(v ?? NaN)
    }
    if (s.platform !== 'unknown') for (const [name, f] of Object.entries(SYS_FIELDS[s.platform])) put(name, f(s))
    if (s.unifiedMemory) this.#unified = true
    for (const u of s.gpuUnread ?? []) if (!this.#gpuUnread.has(u.index)) this.#gpuUnread.set(u.index, u.name ? `GPU ${u.index} (${u.name})` : `GPU ${u.index}`)
    for (const g of s.gpus ?? []) {
      this.#gpuRead.add(g.index)
      put(`gpu-used:${g.index}`, g.usedBytes)
      put(`gpu-total:${g.index}`, g.totalBytes)
    }
    for (const arr of this.#fields.values()) if (arr.length === i) arr.push(NaN)
    if (s.gpuProcesses) this.#addGpuProcesses(block.tsMs, s.gpuProcesses)
    const models = s.models ?? s.cliModels
    if (models) {
      const kept = this.#models.share(models, this.#snapshots[this.#snapshots.length - 1]?.models)
      this.#snapshots.push(s.servers ? { tsMs: block.tsMs, models: kept, servers: s.servers } : { tsMs: block.tsMs, models: kept })
    }
    for (const e of block.events) this.#events.push(e)
  }

  #unreadGpus(): { gpuUnread?: string[] } {
    const names = [...this.#gpuUnread].filter(([i]) => !this.#gpuRead.has(i)).sort((a, b) => a[0] - b[0]).map(([, n]) => n)
    return names.length > 0 ? { gpuUnread: names } : {}
  }

  /**
   * A block's GPU rows, one figure per process: where the counters list a
   * process, theirs (they cover every adapter, the NVIDIA one included), its
   * nvidia-smi rows not added again; elsewhere nvidia-smi's, its GPUs added.
   */
  #addGpuProcesses(tsMs: number, procs: NonNullable<SystemSample['gpuProcesses']>): void {
    const sums = new Map<number, { bytes: number; from: GpuSource; shared: number }>()
    for (const p of procs) {
      const from = p.source === 'gpu-counters' ? 'gpu-counters' : 'nvidia-smi'
      let sum = sums.get(p.pid)
      if (!sum || (from === 'gpu-counters' && sum.from === 'nvidia-smi')) sums.set(p.pid, (sum = { bytes: 0, from, shared: NaN }))
      if (sum.from !== from) continue
      sum.bytes += p.usedBytes
      if (p.sharedBytes !== undefined) sum.shared = (Number.isNaN(sum.shared) ? 0 : sum.shared) + p.sharedBytes
    }
    for (const [pid, { bytes, from, shared }] of sums) {
      let series = this.#gpuByPid.get(pid)
      if (!series) this.#gpuByPid.set(pid, (series = { tsMs: [], bytes: [], from: [], shared: [] }))
      series.tsMs.push(tsMs)
      series.bytes.push(bytes)
      series.from.push(from)
      series.shared.push(shared)
    }
  }

  /**
   * Long-lived placeholders join the processes: an `(ollama)` whose parent is
   * not one of them is the server; a placeholder child of that server is a
   * runner, named later by what /api/ps listed in its time and size.
   */
  #placeHidden(): void {
    const held = [...this.#held.values()].map(h => h.s)
    const kept = held.filter(h => h.tsMs.length >= PLACEHOLDER_MIN_SAMPLES)
    for (const h of held) if (h.tsMs.length < PLACEHOLDER_MIN_SAMPLES) this.#placeholders += h.tsMs.length
    const servers = new Set(kept.filter(h => placeholderName(h.comm, h.command) === 'ollama' && !kept.some(p => p.pid === h.ppid)).map(h => h.pid))
    for (const h of kept) {
      const name = placeholderName(h.comm, h.command) as string
      h.role = servers.has(h.pid) ? 'server' : servers.has(h.ppid) || this.#procs.some(p => p.role === 'server' && p.pid === h.ppid) ? 'runner' : 'other'
      if (h.role === 'runner') h.engine = name
      this.#procs.push(h)
      this.#hiddenArgs++
    }
  }

  finish(): Trace {
    const growing = [...this.#begun, ...this.#held.values()]
    this.#log.split(growing.map(g => g.id)).forEach((c, k) => {
      const s = (growing[k] as Growing).s
      s.tsMs = c.ts
      s.rssKb = c.vals
    })
    this.#placeHidden()
    for (const s of this.#procs) if (!s.ordered) sortSeries(s)
    const procs = this.#procs
      .map(s => ({ s, first: s.tsMs[0] as number }))
      .sort((a, b) => a.first - b.first || a.s.pid - b.s.pid)
      .map(x => x.s)
    const sysTs = this.#sysTs.values()
    const fields = new Map<string, Float64Array>()
    for (const [name, c] of this.#fields) fields.set(name, c.values())
    if (!this.#sysOrdered) sortSystem(sysTs, fields)
    for (const g of this.#gpuByPid.values()) {
      if (g.tsMs.every((t, i) => i === 0 || t >= (g.tsMs[i - 1] as number))) continue
      const order = g.tsMs.map((t, i) => [t, g.bytes[i] as number, g.from[i] as GpuSource, g.shared[i] as number] as const).sort((a, b) => a[0] - b[0])
      g.tsMs = order.map(o => o[0])
      g.bytes = order.map(o => o[1])
      g.from = order.map(o => o[2])
      g.shared = order.map(o => o[3])
    }
    const v = this.#platformVotes
    const platform = v.windows > v.macos && v.windows > v.linux ? 'windows' : v.macos >= v.linux ? (v.macos > 0 ? 'macos' : 'unknown') : 'linux'
    let start = Infinity
    let end = -Infinity
    for (const s of procs) {
      start = Math.min(start, s.tsMs[0] as number)
      end = Math.max(end, s.tsMs[s.tsMs.length - 1] as number)
    }
    if (sysTs.length > 0) {
      start = Math.min(start, sysTs[0] as number)
      end = Math.max(end, sysTs[sysTs.length - 1] as number)
    }
    return {
      procs,
      placeholders: this.#placeholders,
      hiddenArgs: this.#hiddenArgs,
      sys: {
        tsMs: sysTs,
        fields,
        platform,
        ...(this.#memTotal !== undefined ? { memTotalBytes: this.#memTotal } : {}),
        ...(this.#unified ? { unifiedMemory: true } : {}),
        ...this.#unreadGpus(),
      },
      snapshots: this.#snapshots.sort((a, b) => a.tsMs - b.tsMs),
      gpuByPid: this.#gpuByPid,
      events: this.#events,
      startMs: start,
      endMs: end,
    }
  }

}

function sortSystem(sysTs: Float64Array, fields: Map<string, Float64Array>): void {
  const order = timeOrder(sysTs)
  for (const arr of [sysTs, ...fields.values()]) permute(arr, order)
}

/** The indices of `ts` in time order, equal times in the order they came. */
function timeOrder(ts: Float64Array): number[] {
  return Array.from(ts, (_, i) => i).sort((a, b) => (ts[a] as number) - (ts[b] as number) || a - b)
}

/** Puts `arr[order[k]]` at k, in place. */
function permute(arr: Float64Array, order: readonly number[]): void {
  const was = arr.slice()
  order.forEach((i, k) => (arr[k] = was[i] as number))
}

/** The samples of a series before they are handed over. */
const NONE = new Float64Array(0)

function newSeries(pid: number, ppid: number, comm: string, command: string): ProcSeries {
  const c = classify(comm, command)
  const s: ProcSeries = { pid, ppid, comm, command, role: c.role, tsMs: NONE, rssKb: NONE, peakRssKb: 0, ordered: true }
  if (c.engine) s.engine = c.engine
  if (c.modelArg) {
    const m = modelFromArg(c.modelArg)
    if ('blob' in m) s.blob = m.blob
    else {
      s.model = m.model
      s.modelSource = 'argv'
    }
  }
  return s
}

function sortSeries(s: ProcSeries): void {
  const order = timeOrder(s.tsMs)
  permute(s.rssKb, order)
  permute(s.tsMs, order)
  s.ordered = true
}

/** The host has no swap: every swap total the trace holds is zero (and it holds one). */
export function hasNoSwap(trace: Trace): boolean {
  const totals = (trace.sys.fields.get('swap-total') ?? []).filter(v => !Number.isNaN(v))
  return totals.length > 0 && totals.every(v => v === 0)
}
