/**
 * What the daemon samples, for Prometheus (`memtrace start --metrics`). The
 * values are set, and the exposition text made, when a sample is taken; a
 * scrape only writes that text out, so it never reads /proc or calls Ollama,
 * and costs the sampler nothing. Labels carry roles, model names, digests
 * and PIDs, never a command line or a prompt.
 */
import { createServer, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import client from 'prom-client'
import type { LoadedModel, SystemSample, TraceEvent } from '../schemas/index.js'
import { formatHostPort, type MetricsAddress } from './metrics-address.js'
import { GAP_FACTOR } from '../core/model/intervals.js'
import { bound, HEADERS_TIMEOUT_MS, SERVER_OPTIONS } from './metrics-connections.js'
import type { MetricsAccess } from './metrics-access.js'
import { BasicAuth, guard } from './metrics-auth.js'
import { clear, SystemMetrics } from './metrics-system.js'
import { RunnerDeaths } from './metrics-deaths.js'
import { laneFor } from './metrics-lane.js'

export type Role = 'server' | 'runner' | 'other'

export interface MetricsOptions {
  /** memtrace's version, for memtrace_build_info. */
  version?: string
  /** `--metrics-runtime`: prom-client's default metrics of memtrace's own process. */
  runtime?: boolean
  /** The clock markers age by; Date.now unless a replay gives its own. */
  now?: () => number
}

/** One traced process at a sample: its role, its model (runners), its memory, and the runner's slots from its argv. */
export interface MetricProcess {
  pid: number
  ppid: number
  role: Role
  model?: string
  rssBytes: number
  /** `-np N` / `--parallel N` on a runner's command line. */
  parallel?: number
  /** `-c N` / `--ctx-size N`: all slots' cells together. */
  ctxCells?: number
}

/** An /api/ps answer (undefined models: none came), when it came, and the servers whose listings it holds where a host runs several. */
interface Listing {
  atMs: number
  models: LoadedModel[] | undefined
  servers?: string[]
}

/** The labels of a per-server series: none where the host runs one server. */
const labelled = (server: string) => (server ? { server } : {})

/** How long a marker stays exported: any scrape interval up to this sees it. */
const MARKER_KEPT_MS = 10 * 60_000

const LATENESS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export class Metrics {
  readonly registry = new client.Registry()
  readonly #resident = new client.Gauge({ name: 'memtrace_process_resident_bytes', help: 'Resident memory (RSS) of the traced processes, by role (server, runner, other) and, for runners, model; summed over processes of one role and model.', labelNames: ['role', 'model'], registers: [this.registry] })
  readonly #byPid = new client.Gauge({ name: 'memtrace_process_pid_resident_bytes', help: 'Resident memory (RSS) of each traced process by PID, parent PID, role and (runners) model: memtrace_process_resident_bytes with its processes apart, so that two runners of one model and several servers stay apart, each runner under its server.', labelNames: ['pid', 'ppid', 'role', 'model'], registers: [this.registry] })
  readonly #serverInfo = new client.Gauge({ name: 'memtrace_server_info', help: 'An Ollama server the daemon asks (always 1), where a host runs several: its PID and the address (host:port) it answers at, the server label of the per-server series.', labelNames: ['pid', 'address'], registers: [this.registry] })
  readonly #marker = new client.Gauge({ name: 'memtrace_marker_timestamp_seconds', help: 'A marker (memtrace mark) made in the last 10 minutes: when it was made (unix seconds), by its text.', labelNames: ['text'], registers: [this.registry] })
  readonly #runnerInfo = new client.Gauge({ name: 'memtrace_runner_info', help: 'A model runner alive at the last sample (always 1): its model, the digest Ollama lists for it, its PID, slots (NUM_PARALLEL) and context per slot.', labelNames: ['model', 'digest', 'pid', 'parallel', 'ctx'], registers: [this.registry] })
  readonly #processGpu = new client.Gauge({ name: 'memtrace_process_gpu_memory_bytes', help: "GPU memory of the traced runners by PID (nvidia-smi's, or on Windows the GPU Process Memory counters' Dedicated Usage), by model and GPU: nvidia-smi's index, or the counters' adapter (luid_<high>_<low>_phys_<n>); summed over a model's runners.", labelNames: ['model', 'gpu'], registers: [this.registry] })
  readonly #up = new client.Gauge({ name: 'memtrace_ollama_up', help: 'Whether the Ollama server answered /api/ps at the last system sample (1) or not (0); by server where a host runs several.', labelNames: ['server'], registers: [this.registry] })
  readonly #size = new client.Gauge({ name: 'memtrace_ollama_model_loaded_bytes', help: 'What Ollama says a loaded model holds in memory (/api/ps size): its loaded size, not its size on disk.', labelNames: ['model', 'server'], registers: [this.registry] })
  readonly #vram = new client.Gauge({ name: 'memtrace_ollama_model_vram_bytes', help: 'What Ollama says a loaded model holds on the GPU (/api/ps size_vram).', labelNames: ['model', 'server'], registers: [this.registry] })
  readonly #oomKills = new client.Counter({ name: 'memtrace_oom_kills_total', help: "Traced processes (Ollama's server and runners) the kernel's OOM killer killed since the daemon started, by how the kill was seen: source=kernel (the kernel's log, or /proc/vmstat oom_kill), source=cgroup (the server's cgroup memory.events oom_kill).", labelNames: ['source'], registers: [this.registry] })
  readonly #deaths = new client.Counter({ name: 'memtrace_runner_deaths_while_listed_total', help: "Runners that died while their server still listed their model, as the findings' runner gone while listed: a crash or a kill Ollama had not noticed. By server where a host runs several.", labelNames: ['server'], registers: [this.registry] })
  readonly #evictions = new client.Counter({ name: 'memtrace_model_evictions_total', help: "Evictions in the server's log since the daemon started: Ollama unloading a model to make room for another (\"evicting\").", registers: [this.registry] })
  readonly #buildInfo = new client.Gauge({ name: 'memtrace_build_info', help: "memtrace's version and the Node.js version it runs on (always 1).", labelNames: ['version', 'node_version'], registers: [this.registry] })
  readonly #system = new SystemMetrics(this.registry)
  readonly #accounting = new client.Gauge({ name: 'memtrace_model_accounting_ratio', help: "A model's measured memory against Ollama's figure for it, as the findings compare them: memory=system, runner RSS against what Ollama keeps in system memory (all of size on unified memory, else size - size_vram); memory=gpu, the runner's own GPU memory (nvidia-smi, by PID) against size_vram.", labelNames: ['model', 'memory'], registers: [this.registry] })
  readonly #claimed = new client.Gauge({ name: 'memtrace_model_claimed_bytes', help: "What Ollama's figures put in system memory (memory=system) or on the GPU (memory=gpu) for a model: the accounting ratio's denominator.", labelNames: ['model', 'memory'], registers: [this.registry] })
  readonly #orphans = new client.Gauge({ name: 'memtrace_orphan_runners', help: "Runners alive whose model their server's last two /api/ps answers did not list; by server where a host runs several.", labelNames: ['server'], registers: [this.registry] })
  readonly #overlap = new client.Counter({ name: 'memtrace_runner_overlap_seconds_total', help: 'Time during which two or more model runners of one server held memory at once; by server where a host runs several.', labelNames: ['server'], registers: [this.registry] })
  readonly #sampleTime = new client.Gauge({ name: 'memtrace_last_sample_timestamp_seconds', help: "When the last sample of each kind (process, system) was taken: its tick, the time the trace's block carries (unix seconds).", labelNames: ['kind'], registers: [this.registry] })
  readonly #samples = new client.Counter({ name: 'memtrace_samples_total', help: 'Samples taken, by kind (process, system).', labelNames: ['kind'], registers: [this.registry] })
  readonly #missed = new client.Counter({ name: 'memtrace_missed_ticks_total', help: 'Sampling ticks skipped because the sample before ran over, by kind.', labelNames: ['kind'], registers: [this.registry] })
  readonly #lateness = new client.Histogram({ name: 'memtrace_sample_lateness_seconds', help: 'How late each sample started after its tick, by kind.', labelNames: ['kind'], buckets: LATENESS_BUCKETS, registers: [this.registry] })

  /** The exposition text of the last sample: written once, whatever the number of scrapes. */
  #text: Promise<string> | undefined

  /** What a scrape gets: the text as of the last sample (with --metrics-runtime, prom-client's own-process figures included). */
  text(): Promise<string> {
    this.#text ??= this.registry.metrics()
    return this.#text
  }

  /** The same text as the bytes a scrape is sent, encoded once per sample rather than once per scrape. */
  #body: { text: Promise<string>; bytes: Promise<Buffer> } | undefined

  body(): Promise<Buffer> {
    const text = this.text()
    if (this.#body?.text !== text) this.#body = { text, bytes: text.then(t => Buffer.from(t, 'utf8')) }
    return this.#body.bytes
  }

  /** Made at the sample, so that no scrape reads even memtrace's own /proc entries. */
  #made(): void {
    this.#text = this.registry.metrics()
    this.#text.catch(() => (this.#text = undefined))
  }

  /** The last /api/ps answers (newest last), when they came, for digests, orphans and accounting. */
  #listings: Listing[] = []
  /** When each runner PID was first sampled, and what Ollama said of it once known (kept: a label that changes is a new series). */
  readonly #seen = new Map<number, { firstMs: number; digest?: string; ctx?: number }>()
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #deathsSeen: RunnerDeaths
  /** Each server's address by its PID, where a host runs several. */
  #serverOf = new Map<number, string>()
  /** Runners holding memory at the last process sample, by server. */
  #lastHeld = new Map<string, number>()
  #procs: MetricProcess[] = []
  #gpuByPid = new Map<number, number>()
  #gpuRows: { gpu?: number; adapter?: string; pid: number; usedBytes: number }[] = []
  #unified = false
  #lastProcMs: number | undefined
  /** Markers by text, with their time: the newest of one text is kept. */
  readonly #marks = new Map<string, number>()

  /** `intervalMs`: the process interval, to tell a gap from the next sample. */
  /**
   * `intervalMs`: the process interval, to tell a gap from the next sample. `runtime` (`--metrics-runtime`):
   * prom-client's figures of memtrace's own process (`process_*`, `nodejs_*`) too. `now`: the clock markers
   * age by (a replay of a trace gives its own).
   */
  constructor(intervalMs = 1000, o: MetricsOptions = {}) {
    this.#intervalMs = intervalMs
    this.#now = o.now ?? Date.now
    this.#deathsSeen = new RunnerDeaths(intervalMs)
    // Counted only where a server log is followed (system(…, serverLog)): absent, not 0, before.
    clear(this.#evictions)
    this.#buildInfo.set({ version: o.version ?? 'unknown', node_version: process.version }, 1)
    if (o.runtime) {
      // memtrace's own process, under prom-client's names; Ollama's processes never appear under process_*.
      client.collectDefaultMetrics({ register: this.registry })
      // Gauges that prom-client names like counters: promtool rejects them, and they say nothing of memory.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name)
    }
  }

  /** An eviction in the server's log (`0` when a log is followed: the counter is there, at 0, before the first). */
  evictions(n = 1): void {
    this.#evictions.inc(n)
  }

  // late() and missed() leave the text as it is: the next sample's text has them.
  late(kind: 'process' | 'system', ms: number): void {
    this.#lateness.observe({ kind }, Math.max(0, ms) / 1000)
  }

  missed(kind: 'process' | 'system', n: number): void {
    this.#missed.inc({ kind }, n)
  }

  /** The servers of a host that runs several, with the address each answers at; none where it runs one. */
  servers(list: { pid: number; address: string }[]): void {
    this.#serverInfo.reset()
    this.#serverOf = new Map(list.map(s => [s.pid, s.address]))
    // The overlap counted before the servers were told apart (the first sample) is no series of theirs.
    if (list.length > 1) this.#overlap.remove({})
    for (const s of list) this.#serverInfo.set({ pid: String(s.pid), address: s.address }, 1)
  }

  /** A marker of `memtrace mark`: exported from the next system sample on, for 10 minutes. */
  marker(atMs: number, text: string): void {
    if (Number.isFinite(atMs)) this.#marks.set(text, atMs)
  }

  /** A process sample: the traced processes with their roles and models. */
  processes(procs: MetricProcess[], tickMs: number): void {
    this.#samples.inc({ kind: 'process' })
    this.#sampleTime.set({ kind: 'process' }, tickMs / 1000)
    // As the chart measures an overlap: from the first sample with two runners holding memory to the last, never across a gap.
    // Each server's runners apart: two servers with one runner each are no overlap, as on the chart.
    const held = new Map<string, number>()
    for (const p of procs) if (p.role === 'runner' && p.rssBytes > 0) held.set(this.#serverKey(p.ppid), (held.get(this.#serverKey(p.ppid)) ?? 0) + 1)
    const dt = this.#lastProcMs !== undefined ? tickMs - this.#lastProcMs : 0
    for (const server of this.#serverKeys()) this.#overlap.inc(labelled(server), 0)
    for (const [server, n] of held) if (n >= 2 && (this.#lastHeld.get(server) ?? 0) >= 2 && dt > 0 && dt <= GAP_FACTOR * this.#intervalMs) this.#overlap.inc(labelled(server), dt / 1000)
    this.#lastProcMs = tickMs
    this.#lastHeld = held
    this.#procs = procs
    for (const p of procs) if (p.role === 'runner' && !this.#seen.has(p.pid)) this.#seen.set(p.pid, { firstMs: tickMs })
    for (const pid of this.#seen.keys()) if (!procs.some(p => p.pid === pid)) this.#seen.delete(pid)
    this.#deathsSeen.processes(procs.filter(p => p.role === 'runner').map(p => ({ pid: p.pid, ppid: p.ppid, ...(p.model !== undefined ? { model: p.model } : {}) })), tickMs)
    const sums = new Map<string, { role: Role; model: string; bytes: number }>()
    for (const p of procs) {
      const model = p.role === 'runner' ? (p.model ?? 'unknown') : ''
      const key = `${p.role}\u0000${model}`
      const s = sums.get(key) ?? { role: p.role, model, bytes: 0 }
      s.bytes += p.rssBytes
      sums.set(key, s)
    }
    this.#resident.reset()
    for (const s of sums.values()) this.#resident.set({ role: s.role, model: s.model }, s.bytes)
    this.#byPid.reset()
    for (const p of procs) this.#byPid.set({ pid: String(p.pid), ppid: String(p.ppid), role: p.role, ...(p.role === 'runner' ? { model: p.model ?? 'unknown' } : {}) }, p.rssBytes)
    this.#runners()
    this.#made()
  }

  /**
   * A system sample, as the renderer parses it, with the events its block holds (OOM kills); `answered` is
   * whether /api/ps answered; `tickMs`, the tick it was taken for. `serverLog`: a server log is followed.
   */
  system(s: SystemSample, answered: boolean, tickMs?: number, events: readonly TraceEvent[] = [], serverLog = false): void {
    const atMs = tickMs ?? this.#now()
    this.#samples.inc({ kind: 'system' })
    if (tickMs !== undefined) this.#sampleTime.set({ kind: 'system' }, tickMs / 1000)
    this.#unified = s.platform === 'macos'
    this.#system.set(s)
    // Where the kills are watched (Linux), each source is there from the start, at 0: an increase is then seen from the first.
    if (s.platform === 'linux') this.#oomKills.inc({ source: 'kernel' }, 0)
    if (s.platform === 'linux' && s.cgroup !== undefined) this.#oomKills.inc({ source: 'cgroup' }, 0)
    for (const e of events) if (e.kind === 'oom-kill') this.#oomKills.inc({ source: e.source === 'cgroup' ? 'cgroup' : 'kernel' })
    if (serverLog) this.#evictions.inc(0)
    this.#gpuByPid = new Map()
    // A PID the counters list has their figure (every adapter, the NVIDIA one included): its nvidia-smi rows are not added again.
    const counted = new Set((s.gpuProcesses ?? []).filter(p => p.source === 'gpu-counters').map(p => p.pid))
    this.#gpuRows = (s.gpuProcesses ?? []).filter(p => p.source === 'gpu-counters' || !counted.has(p.pid))
    for (const p of this.#gpuRows) this.#gpuByPid.set(p.pid, (this.#gpuByPid.get(p.pid) ?? 0) + p.usedBytes)
    // With several servers, each is up where its listing is in the block; with one, there is no server label.
    const servers = [...new Set(this.#serverOf.values())]
    this.#up.reset()
    if (servers.length > 1) for (const server of servers) this.#up.set({ server }, answered && s.servers?.includes(server) ? 1 : 0)
    else this.#up.set(answered ? 1 : 0)
    // An answer that did not parse says nothing either way.
    this.#listings = [...this.#listings, { atMs, models: answered ? s.models : undefined, ...(s.servers ? { servers: s.servers } : {}) }].slice(-2)
    this.#deathsWhileListed(answered ? s : undefined, servers, atMs)
    this.#size.reset()
    this.#vram.reset()
    // With several servers each listing names its server; with one, there is no server label.
    for (const m of (answered ? s.models : undefined) ?? []) {
      const labels = { model: m.name, ...(m.server !== undefined ? { server: m.server } : {}) }
      this.#size.set(labels, m.sizeBytes)
      if (m.sizeVramBytes !== undefined) this.#vram.set(labels, m.sizeVramBytes)
    }
    const old = this.#now() - MARKER_KEPT_MS
    for (const [text, atMs] of this.#marks) if (atMs < old) this.#marks.delete(text)
    this.#marker.reset()
    for (const [text, atMs] of this.#marks) this.#marker.set({ text }, atMs / 1000)
    this.#runners()
    this.#made()
  }

  /** A runner's server: its parent's address where a host runs several, '' where it runs one. */
  #serverKey(ppid: number): string {
    return this.#serverOf.size > 1 ? (this.#serverOf.get(ppid) ?? '') : ''
  }

  /** The servers the per-server series are kept for: each address where a host runs several, '' where one. */
  #serverKeys(): string[] {
    return this.#serverOf.size > 1 ? [...new Set(this.#serverOf.values())] : ['']
  }

  /** Runners gone while the listings of their server, answered at this sample, still list them. */
  #deathsWhileListed(s: SystemSample | undefined, servers: string[], atMs: number): void {
    const listed = new Map<string, string[]>()
    if (s !== undefined && servers.length > 1) for (const server of s.servers ?? []) listed.set(server, (s.models ?? []).filter(m => m.server === server).map(m => m.name))
    else if (s !== undefined) listed.set('', (s.models ?? []).map(m => m.name))
    // Each server that answered has its count, at 0 until a death.
    for (const server of listed.keys()) this.#deaths.inc(labelled(server), 0)
    for (const server of this.#deathsSeen.listings(listed, atMs, ppid => this.#serverKey(ppid))) this.#deaths.inc(labelled(server))
  }

  /** What depends on both samples: runner info, orphans and accounting. */
  #runners(): void {
    const listed = this.#listings.at(-1)?.models
    const runners = this.#procs.filter(p => p.role === 'runner')
    this.#runnerInfo.reset()
    for (const r of runners) {
      const seen = this.#seen.get(r.pid) ?? { firstMs: 0 }
      const m = r.model !== undefined ? listed?.find(x => x.name === r.model) : undefined
      seen.digest ??= m?.digest
      seen.ctx ??= m?.contextLength ?? (r.ctxCells !== undefined ? Math.floor(r.ctxCells / (r.parallel ?? 1)) : undefined)
      this.#runnerInfo.set({ model: r.model ?? 'unknown', digest: seen.digest ?? '', pid: String(r.pid), parallel: r.parallel !== undefined ? String(r.parallel) : '', ctx: seen.ctx !== undefined ? String(seen.ctx) : '' }, 1)
    }
    this.#processGpu.reset()
    const gpuSums = new Map<string, { model: string; gpu: string; bytes: number }>()
    for (const g of this.#gpuRows) {
      const r = runners.find(x => x.pid === g.pid)
      if (!r) continue
      // nvidia-smi's index; for the counters, the adapter's LUID (`luid_0x…_0x…_phys_N`), never a number: it is the same in every sample.
      const gpu = g.adapter ?? String(g.gpu ?? '')
      const key = `${r.model ?? 'unknown'}\u0000${gpu}`
      const sum = gpuSums.get(key) ?? { model: r.model ?? 'unknown', gpu, bytes: 0 }
      sum.bytes += g.usedBytes
      gpuSums.set(key, sum)
    }
    for (const g of gpuSums.values()) this.#processGpu.set({ model: g.model, gpu: g.gpu }, g.bytes)
    // An orphan as the findings have it: alive while the server's answers in its life (two in a row here) do not list its model.
    // With several servers, its own server's answers: another server's listing neither hides nor makes an orphan.
    const unlisted = (r: MetricProcess) => {
      const first = this.#seen.get(r.pid)?.firstMs ?? Infinity
      const server = this.#serverKey(r.ppid)
      const own = (l: Listing) => (server === '' ? l.models : l.servers?.includes(server) ? l.models?.filter(x => x.server === server) : undefined)
      return this.#listings.length === 2 && this.#listings.every(l => own(l) !== undefined && l.atMs >= first && !own(l)?.some(x => x.name === r.model))
    }
    this.#orphans.reset()
    const orphans = new Map(this.#serverKeys().map(k => [k, 0]))
    for (const r of runners) if (r.model !== undefined && unlisted(r)) orphans.set(this.#serverKey(r.ppid), (orphans.get(this.#serverKey(r.ppid)) ?? 0) + 1)
    for (const [server, n] of orphans) this.#orphans.set(labelled(server), n)
    this.#accounting.reset()
    this.#claimed.reset()
    for (const m of listed ?? []) {
      const mine = runners.filter(r => r.model === m.name)
      if (mine.length === 0 || m.sizeBytes <= 0) continue
      const rss = mine.reduce((a, r) => a + r.rssBytes, 0)
      const vram = m.sizeVramBytes ?? 0
      const hostClaim = this.#unified ? m.sizeBytes : Math.max(0, m.sizeBytes - vram)
      // On unified memory the GPU's share sits in Metal's wired buffers, which RSS need not show: less than claimed is not drift there.
      const metalHidden = this.#unified && vram > 0 && rss < hostClaim
      if (hostClaim > 0 && !metalHidden) {
        this.#accounting.set({ model: m.name, memory: 'system' }, rss / hostClaim)
        this.#claimed.set({ model: m.name, memory: 'system' }, hostClaim)
      }
      const mineOnGpu = mine.filter(r => this.#gpuByPid.has(r.pid))
      if (!this.#unified && vram > 0 && mineOnGpu.length > 0) {
        const own = mineOnGpu.reduce((a, r) => a + (this.#gpuByPid.get(r.pid) as number), 0)
        this.#accounting.set({ model: m.name, memory: 'gpu' }, own / vram)
        this.#claimed.set({ model: m.name, memory: 'gpu' }, vram)
      }
    }
  }
}

/**
 * Serves `GET /metrics` (and `/` with a pointer to it), within the bounds of
 * `metrics-connections.ts`, over HTTPS and to the listed users where `access`
 * says so; resolves once listening, with the address it got.
 */
export async function serveMetrics(metrics: Metrics, at: MetricsAddress, access?: MetricsAccess): Promise<{ server: Server; url: string; reread: () => string | undefined }> {
  const handle: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' })
      res.end()
    } else if (path === '/metrics') {
      metrics.body().then(
        body => {
          // With its length, the answer goes out in one write, not as chunks.
          res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': body.length })
          res.end(req.method === 'HEAD' ? undefined : body)
        },
        (e: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          res.end(`${e.message}\n`)
        },
      )
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('memtrace: the metrics are at /metrics\n')
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('not found: the metrics are at /metrics\n')
    }
  }
  // Made whenever the file names users, even none yet: a SIGHUP may add them.
  const auth = access ? new BasicAuth(access.users) : undefined
  const guarded: RequestListener = auth ? (req, res) => void (auth.required ? guard(auth, req, res, handle) : handle(req, res)) : handle
  const server = access?.tls ? createHttpsServer({ ...SERVER_OPTIONS, ...access.tls, handshakeTimeout: HEADERS_TIMEOUT_MS }, guarded) : createServer(SERVER_OPTIONS, guarded)
  bound(server as Server)
  // Plain HTTP: the scrapes themselves are answered in a lane of their own, at a third of the cost.
  if (!access?.tls) laneFor(server as Server, { body: () => metrics.body(), contentType: metrics.registry.contentType, open: () => !auth?.required })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(at.port, at.host, () => {
      server.off('error', fail)
      ok()
    })
  })
  const a = server.address()
  const port = typeof a === 'object' && a ? a.port : at.port
  // SIGHUP: the files read again and checked as at the start (a renewed certificate, a changed user), for
  // the next connections; HTTP stays HTTP and HTTPS HTTPS. What fails keeps the old ones: its reason is returned.
  const reread = (): string | undefined => {
    if (!access) return undefined
    try {
      const next = access.reread()
      if (Boolean(next.tls) !== Boolean(access.tls)) return `the files now ${next.tls ? 'give' : 'give no'} a certificate: HTTP and HTTPS change only at a restart`
      if (next.tls && 'setSecureContext' in server) server.setSecureContext(next.tls)
      auth?.replace(next.users)
      return undefined
    } catch (e) {
      return (e as Error).message
    }
  }
  return { server: server as Server, url: `${access?.tls ? 'https' : 'http'}://${formatHostPort({ host: at.host, port })}/metrics`, reread }
}
