import { rmSync } from 'node:fs'
import type { Server } from 'node:http'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { eventLine as event } from '../core/parse/events.js'
import { TSV_HEADER } from '../core/parse/proc-tsv.js'
import { formatTs } from '../core/parse/time.js'
import type { DaemonConfig } from './config.js'
import { clean, CommandColumn } from './command-column.js'
import { HiddenArgs } from './hidden-args.js'
import { acquireLock, type LockInfo, releaseLock, rewriteLock } from './lock.js'
import { MarksReader } from './marks.js'
import { MetricFacts } from './metric-facts.js'
import { OomWatch } from './oom-kills.js'
import type { MetricProcess, Metrics } from './metrics.js'
import { macProcesses } from './probe/macos.js'
import { LinuxProcReader, type ProcInfo } from './probe/proc-linux.js'
import { RunnerNames } from './runner-names.js'
import { ServerLogSource } from './server-log-source.js'
import { isServer, selectProcesses } from './select.js'
import { type ServerAddress, ServerAddresses } from './server-addresses.js'
import type { AppendFile } from './sink.js'
import { type DaemonStatus, StatusFile } from './status-file.js'
import { COMMAND_TIMEOUT_MS, SystemSources } from './system-sources.js'
import { takeStopRequest } from './stop-request.js'
import { percentile, Ticker } from './ticker.js'
import { TraceFiles, type TraceNames } from './trace-files.js'

export { TSV_HEADER }
export { MARKS_NAME } from './marks.js'

/**
 * The tracing daemon: samples processes every interval and the system every
 * system interval, appends to the two trace files, and keeps a status file.
 * The sources, the trace files, the markers and the naming of runners are
 * each in a file of their own; this is the tick loop that joins them.
 */
export class Daemon {
  readonly #cfg: DaemonConfig
  readonly #log: Logger
  readonly #version: string
  readonly #files: TraceFiles
  #lock!: LockInfo
  #marks: MarksReader | undefined
  readonly #startedAt = Date.now()
  readonly #linux: LinuxProcReader | undefined
  #procTicker!: Ticker
  #sysTicker!: Ticker
  #events: string[] = []
  #lastPicked: ProcInfo[] | undefined
  readonly #runners: RunnerNames
  readonly #facts = new MetricFacts()
  readonly #hidden = new HiddenArgs()
  /** Each process's command line, written once per file and again when it changes. */
  readonly #commands = new CommandColumn()
  #commandsFor = ''
  /** Linux: the kernel's OOM kills of traced processes. */
  readonly #oom: OomWatch | undefined
  /** With --metrics: what Prometheus scrapes, set at each sample. */
  #metrics: Metrics | undefined
  #metricsServer: Server | undefined
  #status: Omit<DaemonStatus, 'lateness' | 'updatedAt' | 'running' | 'writes'>
  #lastSourceErrors = new Map<string, string>()
  #stopping: Promise<void> | undefined
  #statusProblem: string | undefined
  /** Set once the files are closed: a sample that outlived the stop writes nothing. */
  #closed = false
  /** Aborted on stop: a source still waited for is given up and recorded as timed out. */
  readonly #abort = new AbortController()
  readonly #sources: SystemSources
  readonly #statusFile: StatusFile
  /** The server's own log, followed into a third trace file. */
  #serverLog: ServerLogSource | undefined
  /** Linux: where each `ollama serve` answers, for a host that runs several. */
  readonly #addresses: ServerAddresses
  #servers: ServerAddress[] = []
  #serverSet = ''
  /** Windows: called when `memtrace stop` left a request naming this daemon (there are no signals to send it). */
  onStopRequest: (() => void) | undefined

  /** `logFile` (reopened on SIGHUP, retried and reported like the traces) is the destination the logger writes to, when it is a file the daemon owns. */
  constructor(cfg: DaemonConfig, log: Logger, version: string, logFile?: AppendFile) {
    this.#cfg = cfg
    this.#log = log
    this.#files = new TraceFiles(cfg.dir, log, logFile, m => this.#error(m))
    this.#runners = new RunnerNames(log, m => {
      this.#sourceError('models', m)
      this.#error(m)
    })
    this.#sources = new SystemSources(cfg, this.#abort.signal, { error: (s, m) => this.#sourceError(s, m), recovered: s => this.#lastSourceErrors.delete(s) })
    this.#statusFile = new StatusFile(cfg.dir)
    this.#addresses = new ServerAddresses(cfg.procRoot, cfg.ollamaUrl, m => {
      this.#sourceError('servers', m)
      this.#error(m)
    })
    this.#version = version
    this.#linux = cfg.platform === 'linux' ? new LinuxProcReader(cfg.procRoot) : undefined
    this.#oom = cfg.platform === 'linux' ? new OomWatch(cfg.procRoot) : undefined
    this.#status = { version, pid: process.pid, startedAt: formatTs(this.#startedAt), systemIntervalMs: cfg.systemIntervalMs, dir: cfg.dir, procFile: '', systemFile: '', logFile: join(cfg.dir, 'memtrace.log'),
      processSamples: 0, processRows: 0, systemSamples: 0, missedTicks: { process: 0, system: 0 } }
  }

  /** Takes the lock and opens the files; throws a message for the user when it cannot. */
  open(): { lock: LockInfo; staleFrom?: number } | { holder: LockInfo } {
    this.#files.hold()
    const files = this.#files.names()
    this.#lock = { pid: process.pid, startedAt: this.#status.startedAt, ...files, logFile: this.#status.logFile }
    const got = acquireLock(this.#cfg.dir, this.#lock)
    if (!got.ok) return { holder: got.holder }
    try {
      this.#files.open(files)
    } catch (e) {
      // Refused (a link planted at a trace name): the lock goes too, so nothing is left that `status` would call stale.
      releaseLock(this.#cfg.dir)
      throw e
    }
    this.#namedFiles(files)
    if (got.staleFrom !== undefined) this.#log.warn({ stalePid: got.staleFrom }, 'took over a stale lock: its daemon is gone (the pid is free or now another process)')
    this.#marks = new MarksReader(this.#cfg.dir, this.#log)
    this.#followServerLog(files.procFile)
    this.#events.push(event('start', { version: this.#version, pid: process.pid, interval_ms: this.#cfg.intervalMs, system_interval_ms: this.#cfg.systemIntervalMs }))
    return got.staleFrom !== undefined ? { lock: this.#lock, staleFrom: got.staleFrom } : { lock: this.#lock }
  }

  /** The server's log, named or found (a container's, once the server is seen); where there is none, said once and the daemon goes on. */
  #followServerLog(procFile: string): void {
    this.#serverLog = new ServerLogSource({
      named: this.#cfg.serverLog,
      platform: this.#cfg.platform,
      procRoot: this.#cfg.procRoot,
      file: procFile.replace(/ollama-process-memtrace-([^/]*)\.tsv$/, 'ollama-server-memtrace-$1.log'),
      startedAt: this.#startedAt,
      log: this.#log,
      problem: m => this.#sourceError('server-log', m),
      onEvent: e => {
        if (e.kind === 'eviction') this.#metrics?.evictions()
      },
    })
  }

  /** `files` are open: the status names them. */
  #namedFiles(files: TraceNames): void {
    this.#status.procFile = files.procFile
    this.#status.systemFile = files.systemFile
  }

  /** Serves the metrics (`--metrics`) before sampling starts; throws when the address cannot be bound. Returns the URL, and what reads the certificate and users again. */
  async serveMetrics(): Promise<{ url: string; reread: () => string | undefined } | undefined> {
    if (!this.#cfg.metrics) return undefined
    const { Metrics, serveMetrics } = await import('./metrics.js')
    this.#parseBlock = (await import('../core/parse/system-block.js')).parseBlock
    this.#problems = new (await import('../core/parse/problems.js')).ProblemLog()
    this.#metrics = new Metrics(this.#cfg.intervalMs, { version: this.#version, ...(this.#cfg.metricsRuntime ? { runtime: true } : {}) })
    const { server, url, reread } = await serveMetrics(this.#metrics, this.#cfg.metrics, this.#cfg.metricsAccess)
    this.#metricsServer = server
    this.#status.metricsUrl = url
    return { url, reread }
  }

  #parseBlock: typeof import('../core/parse/system-block.js').parseBlock | undefined
  #problems: import('../core/parse/problems.js').ProblemLog | undefined

  start(): void {
    // The server's log is read right after each process sample (at the default second): the daemon wakes once a second, not twice.
    this.#procTicker = new Ticker(this.#cfg.intervalMs, async t => {
      if (this.onStopRequest && takeStopRequest(this.#cfg.dir, this.#lock)) this.onStopRequest()
      await this.#sampleProcesses(t)
      if (!this.#closed) this.#serverLog?.poll()
    }, (n, t) => this.#missed('process', n, t))
    this.#sysTicker = new Ticker(this.#cfg.systemIntervalMs, t => this.#sampleSystem(t), (n, t) => this.#missed('system', n, t))
    // One sample of each at once: the state before the reproduction, and data
    // even for a run shorter than one system interval.
    this.#procTicker.start(true)
    this.#sysTicker.start(true)
    this.#serverLog?.start(this.#cfg.intervalMs)
    this.#log.info({ dir: this.#cfg.dir, procFile: this.#files.proc.path, systemFile: this.#files.sys.path, platform: this.#cfg.platform, ollama: this.#cfg.ollamaUrl }, 'tracing started')
    this.#writeStatus(true)
  }

  /** Finishes the write in progress, closes the files, releases the lock. */
  stop(reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.#log.info({ reason }, 'stopping')
      // A sample waiting on a slow source must not hold up the exit: the
      // source is given up (recorded as timed out) and what was gathered is
      // written. The limit is for a sample stuck elsewhere; it is then lost.
      this.#abort.abort()
      let timer: NodeJS.Timeout | undefined
      const finished = await Promise.race([
        Promise.all([this.#procTicker?.stop(), this.#sysTicker?.stop()]).then(() => true),
        new Promise<false>(r => (timer = setTimeout(() => r(false), 1000))),
      ])
      clearTimeout(timer)
      if (!finished) this.#log.warn('a sample still running at the stop was not written')
      // A mark made just before the stop, and events waiting for the next block, go out in a last block of their own.
      if (finished && this.#files.sys) {
        this.#readMarks()
        if (this.#events.length > 0) {
          this.#files.write(this.#files.sys, `===== ${formatTs(Date.now())} =====\n${this.#events.join('')}\n`)
          this.#events = []
        }
      }
      this.#metricsServer?.close()
      this.#metricsServer?.closeAllConnections()
      // A log command is ended (SIGKILL if it ignores SIGTERM) before the lock goes: a stop that returned left none behind.
      await this.#serverLog?.stop()
      this.#oom?.close()
      const lost = this.#files.close()
      this.#closed = true
      if (lost > 0) this.#error(`${lost} bytes of trace held back could not be written before the exit and are lost`)
      this.#writeStatus(false)
      this.#statusFile.close()
      if (this.#files.usable) releaseLock(this.#cfg.dir)
      this.#log.info({ processSamples: this.#status.processSamples, systemSamples: this.#status.systemSamples }, 'stopped')
    })()
    return this.#stopping
  }

  /**
   * Gives up before any sample (the metrics address could not be bound): the
   * files `open` created, which hold nothing yet, are removed with the lock,
   * so `render --dir` never takes them for the newest trace.
   */
  abandon(): void {
    this.#closed = true
    void this.#serverLog?.stop()
    this.#files.close()
    for (const f of [this.#status.procFile, this.#status.systemFile]) rmSync(f, { force: true })
    releaseLock(this.#cfg.dir)
  }

  /** SIGHUP: reopen the files at their paths (after log rotation). */
  reopen(): void {
    this.#files.reopen()
    this.#log.info('reopened the trace files')
  }

  #missed(source: 'process' | 'system', n: number, atMs: number): void {
    this.#status.missedTicks[source] += n
    this.#metrics?.missed(source, n)
    this.#events.push(event('missed', { ts: formatTs(atMs), source, ticks: n }))
    this.#log.warn({ source, ticks: n }, 'sampling took longer than the interval; ticks skipped')
  }

  #error(message: string, extra: Record<string, unknown> = {}): void {
    this.#status.lastError = { at: formatTs(Date.now()), message }
    this.#log.error(extra, message)
  }

  async #sampleProcesses(tickMs: number): Promise<void> {
    this.#metrics?.late('process', Date.now() - tickMs)
    let all: ProcInfo[]
    try {
      if (this.#linux) all = this.#linux.scan()
      else {
        const win = this.#sources.winProcs
        // At a system sample's time its memory figures go with this request: one answer for both.
        if (tickMs % this.#cfg.systemIntervalMs === 0) win?.askMemory()
        const r = await (win ? win.list(COMMAND_TIMEOUT_MS) : macProcesses(COMMAND_TIMEOUT_MS, this.#abort.signal))
        if (r.error) this.#sourceError(win ? 'processes' : 'ps', r.error)
        all = r.procs
      }
    } catch (e) {
      this.#error(`process scan failed: ${(e as Error).message}`)
      return
    }
    if (this.#closed) return
    // With no process come or gone, the traced set is the same as last time.
    const selected = this.#linux && !this.#linux.changed && this.#lastPicked ? this.#lastPicked : selectProcesses(all, this.#cfg.match, process.pid)
    const picked = this.#linux ? this.#linux.fresh(selected) : selected
    this.#lastPicked = picked
    const ts = formatTs(tickMs)
    let rows = ''
    const forMetrics: MetricProcess[] = []
    const models = new Map<number, string>()
    // The servers first: a runner is known to be theirs by its parent.
    this.#runners.servers = new Set(picked.filter(p => isServer(p.command)).map(p => p.pid))
    for (const pid of this.#runners.servers) this.#runners.serverPid = pid
    // A new or reopened file, or rows dropped on a full disk: every command is written again.
    const generation = `${this.#files.proc.path}:${this.#files.reopened}:${this.#files.proc.droppedBytes}`
    if (generation !== this.#commandsFor) this.#commands.reset()
    this.#commandsFor = generation
    for (const p of picked) {
      rows += `${ts}\t${p.pid}\t${p.ppid}\t${clean(p.comm).slice(0, 256)}\t${p.rssKb}\t${p.vszKb}${this.#commands.column(`${p.pid}:${p.startTicks || p.command}`, p.command, tickMs)}\n`
      // One key per process for its whole life: the PID with its start time (or command, where that is unknown).
      const key = `${p.pid}:${p.startTicks || p.command}`
      const { model, named } = this.#runners.note(p, key)
      if (model) models.set(p.pid, model)
      if (named) this.#events.push(event('runner', { ts: formatTs(Date.now()), ...named }))
      if (this.#metrics) forMetrics.push(this.#facts.process(p, key, model))
    }
    this.#commands.sampled()
    this.#metrics?.processes(forMetrics, tickMs)
    this.#findServers(picked, all)
    this.#oom?.note(picked, models, tickMs)
    const hidden = this.#hidden.check(picked, tickMs, this.#cfg.intervalMs)
    if (hidden) {
      this.#sourceError('ps', hidden)
      this.#error(hidden)
    }
    this.#status.processSamples++
    this.#status.processRows += picked.length
    this.#status.lastProcessSample = ts
    if (rows) this.#files.write(this.#files.proc, rows)
  }

  /**
   * Linux, several servers: where each answers, worked out again only when the
   * set of servers changes. One server is asked at --ollama-url, as always.
   */
  #findServers(picked: ProcInfo[], all: ProcInfo[]): void {
    if (!this.#linux) return
    const servers = picked.filter(p => isServer(p.command))
    const set = servers.map(p => `${p.pid}:${p.startTicks}`).join(',')
    if (set === this.#serverSet) return
    this.#serverSet = set
    this.#servers = servers.length > 1 ? this.#addresses.resolve(servers, all) : []
    this.#metrics?.servers(this.#servers)
  }

  async #sampleSystem(tickMs: number): Promise<void> {
    this.#metrics?.late('system', Date.now() - tickMs)
    this.#checkFiles()
    const { sys, gpu, ollama } = await this.#sources.read(this.#runners.serverPid, this.#servers)
    if (this.#closed) return
    this.#serverLog?.check(this.#runners.serverPid)
    for (const e of sys.errors) this.#sourceError('system', e)
    for (const n of sys.notices ?? []) {
      this.#lastSourceErrors.delete('system')
      this.#log.info({ source: 'system' }, n)
    }
    for (const k of this.#oom?.check(tickMs, this.#sources.cgroupDir, sys.text) ?? []) {
      this.#events.push(event('oom-kill', { ...k }))
      this.#error(`the kernel's OOM killer killed ${k.text} (pid ${k.pid})${k.model ? `, the runner of ${k.model}` : ''}: ${k.message}`)
    }
    this.#readMarks()
    for (const d of this.#files.dropped()) this.#events.push(event('dropped', d))
    const block = `===== ${formatTs(tickMs)} =====\n${this.#events.join('')}${sys.text}${gpu}${ollama.text}\n`
    this.#events = []
    this.#metricsFromBlock(block, ollama.answered, tickMs)
    this.#status.systemSamples++
    this.#status.lastSystemSample = formatTs(tickMs)
    this.#files.write(this.#files.sys, block)
    this.#writeStatus(true)
  }

  /** The trace files or their directory removed while running: say so, start new files. */
  #checkFiles(): void {
    const message = this.#files.check(files => {
      this.#namedFiles(files)
      this.#lock = { ...this.#lock, ...files }
      rewriteLock(this.#cfg.dir, this.#lock)
      this.#events.push(event('start', { version: this.#version, pid: process.pid, reason: 'files removed', interval_ms: this.#cfg.intervalMs, system_interval_ms: this.#cfg.systemIntervalMs }))
    })
    if (message) this.#error(message)
  }

  /** The block as `render` reads it, for the metrics: the same parser, so the figures agree with the chart's. */
  #metricsFromBlock(block: string, answered: boolean, tickMs: number): void {
    if (!this.#metrics || !this.#parseBlock || !this.#problems) return
    const lines = block.split('\n').slice(1).map((text, i) => ({ text, no: i + 2 }))
    const { sample, events } = this.#parseBlock('system', formatTs(Date.now()), 1, lines, this.#problems)
    this.#metrics.system(sample, answered, tickMs, events, this.#serverLog?.following === true)
  }

  /** Recorded in the trace every time; logged when it starts or changes. */
  #sourceError(source: string, message: string): void {
    this.#events.push(event('source-error', { ts: formatTs(Date.now()), source, message }))
    if (this.#lastSourceErrors.get(source) !== message) {
      this.#lastSourceErrors.set(source, message)
      this.#log.warn({ source }, message)
    }
  }

  /** Markers that `memtrace mark` appended since the last block. */
  #readMarks(): void {
    if (!this.#files.usable) return
    for (const m of this.#marks?.read() ?? []) {
      this.#events.push(event('marker', { ts: m.ts, text: m.text }))
      this.#metrics?.marker(Date.parse(m.ts), m.text)
    }
  }

  #writeStatus(running: boolean): void {
    if ((this.#closed && running) || !this.#files.usable) return
    const late = [...(this.#procTicker?.lateness ?? []), ...(this.#sysTicker?.lateness ?? [])]
    if (this.#serverLog) this.#status.serverLog = { ...this.#serverLog.status, lines: this.#serverLog.kept }
    const problem = this.#statusFile.write({
      ...this.#status,
      running,
      updatedAt: formatTs(Date.now()),
      lateness: { p50Ms: percentile(late, 0.5), p99Ms: percentile(late, 0.99), maxMs: late.reduce((m, v) => (v > m ? v : m), 0) },
      writes: this.#files.states(),
    })
    // Logged when it starts or changes; the log may be on the same full disk, and holds it back.
    if (problem !== this.#statusProblem && problem !== undefined) this.#log.warn(problem)
    this.#statusProblem = problem
  }
}
