import { accessSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path'
import type { Logger } from 'pino'
import { classify, isPlaceholder, modelFromArg, PARALLEL_ARG_RE } from '../core/model/roles.js'
import { PLACEHOLDER_MIN_SAMPLES } from '../core/model/trace.js'
import { formatTs, localStamp } from '../core/parse/time.js'
import { TSV_HEADER } from '../core/parse/proc-tsv.js'
import type { DaemonConfig } from './config.js'
import { acquireLock, type LockInfo, releaseLock, rewriteLock } from './lock.js'
import { macProcesses, macSystemText } from './probe/macos.js'
import { fetchApiPs, ManifestIndex } from './probe/ollama.js'
import { LinuxProcReader, type ProcInfo } from './probe/proc-linux.js'
import { runCommand } from './probe/run-command.js'
import { NvidiaSource } from './probe/nvidia.js'
import { cgroupText, linuxSystemText, memoryCgroup } from './probe/system-linux.js'
import { readNoFollow } from './safe-open.js'
import { isServer, selectProcesses } from './select.js'
import { AppendFile, mib } from './sink.js'
import { type DaemonStatus, StatusFile, type WriteState } from './status-file.js'
import { Ticker } from './ticker.js'
import type { Metrics, MetricProcess } from './metrics.js'
import type { Server } from 'node:http'

export { TSV_HEADER }
export const MARKS_NAME = 'memtrace.marks'
const API_TIMEOUT_MS = 2000
const COMMAND_TIMEOUT_MS = 3000

/** Control characters would break a TSV row; `ps` prints them as `?` too. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, '?')
}

function event(kind: string, body: Record<string, unknown>): string {
  return `memtrace ${kind} ${JSON.stringify(body)}\n`
}

function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
}

/**
 * The tracing daemon: samples processes every interval and the system every
 * system interval, appends to the two trace files, and keeps a status file.
 */
export class Daemon {
  readonly #cfg: DaemonConfig
  readonly #log: Logger
  readonly #version: string
  #proc!: AppendFile
  #sys!: AppendFile
  #lock!: LockInfo
  readonly #startedAt = Date.now()
  readonly #linux: LinuxProcReader | undefined
  #procTicker!: Ticker
  #sysTicker!: Ticker
  #events: string[] = []
  #lastPicked: ProcInfo[] | undefined
  readonly #runnersSeen = new Map<string, { pid: number; blob?: string; model?: string; named: boolean; tries: number }>()
  /** The models folders the runners' --model blobs are in. */
  readonly #runnerModelDirs = new Set<string>()
  /** With --metrics: what Prometheus scrapes, set at each sample. */
  #metrics: Metrics | undefined
  #metricsServer: Server | undefined
  #serverPid: number | undefined
  #manifests: ManifestIndex | undefined
  #manifestKey = ''
  #ollamaCli: 'unknown' | 'yes' | 'no' = 'unknown'
  #marksOffset = 0
  #status: Omit<DaemonStatus, 'lateness' | 'updatedAt' | 'running' | 'writes'>
  #lastSourceErrors = new Map<string, string>()
  #stopping: Promise<void> | undefined
  #statusProblem: string | undefined
  /** Set once the files are closed: a sample that outlived the stop writes nothing. */
  #closed = false
  /** Aborted on stop: a source still waited for is given up and recorded as timed out. */
  readonly #abort = new AbortController()
  readonly #nvidia = new NvidiaSource(COMMAND_TIMEOUT_MS, this.#abort.signal)
  readonly #statusFile: StatusFile
  /** The outputs whose writes are failing, with the error last logged for each. */
  readonly #failing = new Map<AppendFile, string>()
  /** Bytes dropped per trace file already reported in the trace. */
  readonly #droppedReported = new Map<string, number>()

  /** The daemon's own log: reopened on SIGHUP, retried and reported like the traces. */
  readonly #logFile: AppendFile | undefined

  /** `logFile` is the destination the logger writes to, when it is a file the daemon owns. */
  constructor(cfg: DaemonConfig, log: Logger, version: string, logFile?: AppendFile) {
    this.#cfg = cfg
    this.#log = log
    this.#logFile = logFile
    this.#statusFile = new StatusFile(cfg.dir)
    this.#version = version
    this.#linux = cfg.platform === 'linux' ? new LinuxProcReader(cfg.procRoot) : undefined
    this.#status = {
      version,
      pid: process.pid,
      startedAt: formatTs(this.#startedAt),
      systemIntervalMs: cfg.systemIntervalMs,
      dir: cfg.dir,
      procFile: '',
      systemFile: '',
      logFile: join(cfg.dir, 'memtrace.log'),
      processSamples: 0,
      processRows: 0,
      systemSamples: 0,
      missedTicks: { process: 0, system: 0 },
    }
  }

  /** Takes the lock and opens the files; throws a message for the user when it cannot. */
  open(): { lock: LockInfo; staleFrom?: number } | { holder: LockInfo } {
    mkdirSync(this.#cfg.dir, { recursive: true, mode: 0o700 })
    const files = this.#fileNames()
    this.#lock = { pid: process.pid, startedAt: this.#status.startedAt, ...files, logFile: this.#status.logFile }
    const got = acquireLock(this.#cfg.dir, this.#lock)
    if (!got.ok) return { holder: got.holder }
    this.#openFiles(files)
    if (got.staleFrom !== undefined) this.#log.warn({ stalePid: got.staleFrom }, 'took over a stale lock: its daemon is gone (the pid is free or now another process)')
    this.#marksOffset = this.#marksSize()
    this.#events.push(event('start', { version: this.#version, pid: process.pid, interval_ms: this.#cfg.intervalMs, system_interval_ms: this.#cfg.systemIntervalMs }))
    return got.staleFrom !== undefined ? { lock: this.#lock, staleFrom: got.staleFrom } : { lock: this.#lock }
  }

  #fileNames(): { procFile: string; systemFile: string } {
    const s = localStamp(Date.now())
    let procFile = join(this.#cfg.dir, `ollama-process-memtrace-${s}.tsv`)
    let systemFile = join(this.#cfg.dir, `system-memtrace-${s}.log`)
    // Existing files are never appended to by a new run, nor overwritten.
    for (let n = 2; existsSync(procFile) || existsSync(systemFile); n++) {
      procFile = join(this.#cfg.dir, `ollama-process-memtrace-${s}-${n}.tsv`)
      systemFile = join(this.#cfg.dir, `system-memtrace-${s}-${n}.log`)
    }
    return { procFile, systemFile }
  }

  #openFiles(files: { procFile: string; systemFile: string }): void {
    this.#proc = new AppendFile(files.procFile, { header: TSV_HEADER })
    this.#sys = new AppendFile(files.systemFile)
    this.#status.procFile = files.procFile
    this.#status.systemFile = files.systemFile
  }

  /** Serves the metrics (`--metrics`) before sampling starts; throws when the address cannot be bound. Returns the URL. */
  async serveMetrics(): Promise<string | undefined> {
    if (!this.#cfg.metrics) return undefined
    const { Metrics, serveMetrics } = await import('./metrics.js')
    this.#parseBlock = (await import('../core/parse/system-block.js')).parseBlock
    this.#problems = new (await import('../core/parse/problems.js')).ProblemLog()
    this.#metrics = new Metrics(this.#cfg.intervalMs)
    const { server, url } = await serveMetrics(this.#metrics, this.#cfg.metrics)
    this.#metricsServer = server
    this.#status.metricsUrl = url
    return url
  }

  #parseBlock: typeof import('../core/parse/system-block.js').parseBlock | undefined
  #problems: import('../core/parse/problems.js').ProblemLog | undefined

  start(): void {
    this.#procTicker = new Ticker(this.#cfg.intervalMs, t => this.#sampleProcesses(t), (n, t) => this.#missed('process', n, t))
    this.#sysTicker = new Ticker(this.#cfg.systemIntervalMs, t => this.#sampleSystem(t), (n, t) => this.#missed('system', n, t))
    // One sample of each at once: the state before the reproduction, and data
    // even for a run shorter than one system interval.
    this.#procTicker.start(true)
    this.#sysTicker.start(true)
    this.#log.info({ dir: this.#cfg.dir, procFile: this.#proc.path, systemFile: this.#sys.path, platform: this.#cfg.platform, ollama: this.#cfg.ollamaUrl }, 'tracing started')
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
      if (finished && this.#sys) {
        this.#readMarks()
        if (this.#events.length > 0) {
          if (!this.#sys.write(`===== ${formatTs(Date.now())} =====\n${this.#events.join('')}\n`)) this.#writeFailed(this.#sys)
          this.#events = []
        }
      }
      this.#metricsServer?.close()
      this.#metricsServer?.closeAllConnections()
      const lost = (this.#proc?.close() ?? 0) + (this.#sys?.close() ?? 0)
      this.#closed = true
      if (lost > 0) this.#error(`${lost} bytes of trace held back could not be written before the exit and are lost`)
      this.#writeStatus(false)
      this.#statusFile.close()
      releaseLock(this.#cfg.dir)
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
    this.#proc?.close()
    this.#sys?.close()
    for (const f of [this.#status.procFile, this.#status.systemFile]) rmSync(f, { force: true })
    releaseLock(this.#cfg.dir)
  }

  /** SIGHUP: reopen the files at their paths (after log rotation). */
  reopen(): void {
    this.#logFile?.reopen()
    this.#proc.reopen()
    this.#sys.reopen()
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
        const r = await macProcesses(COMMAND_TIMEOUT_MS, this.#abort.signal)
        if (r.error) this.#sourceError('ps', r.error)
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
    for (const p of picked) {
      rows += `${ts}\t${p.pid}\t${p.ppid}\t${clean(p.comm)}\t${p.rssKb}\t${p.vszKb}\t${clean(p.command)}\n`
      if (isServer(p.command)) this.#serverPid = p.pid
      const model = this.#noteRunner(p)
      if (this.#metrics) forMetrics.push(this.#metricProcess(p, model))
    }
    this.#metrics?.processes(forMetrics, tickMs)
    this.#noteHidden(picked, tickMs)
    this.#status.processSamples++
    this.#status.processRows += picked.length
    this.#status.lastProcessSample = ts
    if (rows && !this.#proc.write(rows)) this.#writeFailed(this.#proc)
  }

  /** Each traced process's command facts, read once per process (the same key as the runners'), not every second. */
  readonly #factsSeen = new Map<string, CommandFacts>()

  #metricProcess(p: ProcInfo, model: string | undefined): MetricProcess {
    const key = `${p.pid}:${p.startTicks || p.command}`
    let facts = this.#factsSeen.get(key)
    if (!facts) {
      // Processes come and go: the cache is dropped when it holds far more than is traced.
      if (this.#factsSeen.size > 4096) this.#factsSeen.clear()
      this.#factsSeen.set(key, (facts = commandFacts(p)))
    }
    return { pid: p.pid, ppid: p.ppid, rssBytes: p.rssKb * 1024, ...facts, ...(facts.role === 'runner' && model !== undefined ? { model } : {}) }
  }

  /** Placeholder PIDs and the sample each was first seen at; said once when one outlives a start-up. */
  readonly #placeholderSince = new Map<number, number>()
  #hiddenSaid = false

  /**
   * An `(ollama)` that stays is a server whose arguments ps cannot read (run
   * as root, by `sudo brew services` or a LaunchDaemon): one source-error
   * says so and how to read them, and `status` shows it.
   */
  #noteHidden(picked: ProcInfo[], tickMs: number): void {
    if (this.#hiddenSaid) return
    const now = new Set(picked.filter(p => isPlaceholder(p.comm, p.command)).map(p => p.pid))
    for (const pid of [...this.#placeholderSince.keys()]) if (!now.has(pid)) this.#placeholderSince.delete(pid)
    for (const pid of now) if (!this.#placeholderSince.has(pid)) this.#placeholderSince.set(pid, tickMs)
    const lasting = [...this.#placeholderSince.entries()].find(([, since]) => tickMs - since >= (PLACEHOLDER_MIN_SAMPLES - 1) * this.#cfg.intervalMs)
    if (!lasting) return
    this.#hiddenSaid = true
    const message = `the arguments of Ollama's processes cannot be read (pid ${lasting[0]} shows as "(ollama)": it runs as another user, such as root): runners are drawn by name only and named from /api/ps; sudo memtrace start would read them`
    this.#sourceError('ps', message)
    this.#error(message)
  }

  /** A runner seen for the first time: map its blob to a model name for the trace. Returns the runner's model, where known. */
  #noteRunner(p: ProcInfo): string | undefined {
    const key = `${p.pid}:${p.startTicks || p.command}`
    let seen = this.#runnersSeen.get(key)
    if (!seen) {
      const c = classify(p.comm, p.command)
      if (c.role !== 'runner' || !c.modelArg) return undefined
      const m = modelFromArg(c.modelArg)
      seen = { pid: p.pid, named: !('blob' in m), tries: 0, ...('blob' in m ? { blob: m.blob } : { model: m.model }) }
      this.#runnersSeen.set(key, seen)
      // The runner's blob says where the models are, whatever the app set that memtrace cannot see (no OLLAMA_MODELS).
      const blobs = dirname(c.modelArg)
      if ('blob' in m && isAbsolute(c.modelArg) && basename(blobs) === 'blobs') this.#runnerModelDirs.add(dirname(blobs))
    }
    if (seen.named || !seen.blob || seen.tries >= 3) return seen.model
    seen.tries++
    const model = this.#manifestIndex().lookup(seen.blob)
    if (model) {
      seen.named = true
      seen.model = model
      this.#events.push(event('runner', { ts: formatTs(Date.now()), pid: p.pid, model, blob: seen.blob }))
      this.#log.info({ pid: p.pid, model }, 'runner started')
    } else if (seen.tries === 3) this.#log.warn({ pid: p.pid, blob: seen.blob }, 'no manifest names this runner blob')
    return seen.model
  }

  /** Where the models are: beside the runners' blobs first, then the server's OLLAMA_MODELS, else the usual places. */
  #manifestIndex(): ManifestIndex {
    const dirs: string[] = [...this.#runnerModelDirs]
    const env = this.#serverPid ? serverEnv(this.#serverPid) : {}
    if (env.OLLAMA_MODELS) dirs.push(env.OLLAMA_MODELS)
    if (process.env.OLLAMA_MODELS) dirs.push(process.env.OLLAMA_MODELS)
    if (env.HOME) dirs.push(join(env.HOME, '.ollama', 'models'))
    dirs.push(join(homedir(), '.ollama', 'models'), '/usr/share/ollama/.ollama/models', '/root/.ollama/models')
    const unique = [...new Set(dirs)]
    const key = unique.join('\u0000')
    if (!this.#manifests || key !== this.#manifestKey) {
      this.#manifests = new ManifestIndex(unique)
      this.#manifestKey = key
    }
    return this.#manifests
  }

  async #sampleSystem(tickMs: number): Promise<void> {
    this.#metrics?.late('system', Date.now() - tickMs)
    this.#checkFiles()
    const sources = this.#cfg.platform === 'linux' ? this.#linuxSources() : macSystemText(COMMAND_TIMEOUT_MS, this.#abort.signal)
    const [sys, gpu, ollama] = await Promise.all([sources, this.#nvidiaText(), this.#ollamaText()])
    if (this.#closed) return
    for (const e of sys.errors) this.#sourceError('system', e)
    this.#readMarks()
    this.#reportDropped()
    const block = `===== ${formatTs(tickMs)} =====\n${this.#events.join('')}${sys.text}${gpu}${ollama.text}\n`
    this.#events = []
    this.#metricsFromBlock(block, ollama.answered)
    this.#status.systemSamples++
    this.#status.lastSystemSample = formatTs(tickMs)
    if (!this.#sys.write(block)) this.#writeFailed(this.#sys)
    this.#writeStatus(true)
  }

  async #linuxSources(): Promise<{ text: string; errors: string[] }> {
    const r = linuxSystemText(this.#cfg.procRoot)
    const cg = this.#serverPid ? memoryCgroup(this.#serverPid, this.#cfg.procRoot) : undefined
    if (cg) r.text += cgroupText(cg)
    return r
  }

  async #nvidiaText(): Promise<string> {
    const r = await this.#nvidia.sample()
    if (r.error) this.#sourceError('nvidia-smi', r.error)
    return r.text
  }

  #ollamaCliReal: string | undefined

  /**
   * The `ollama` on PATH, by its real path. On macOS `/usr/local/bin/ollama`
   * links into Ollama.app, and the CLI started through that link relaunches
   * the app when the server does not answer: if the user quit Ollama between
   * the /api/ps answer and this call, memtrace would start it again.
   */
  #ollamaCliPath(): string {
    if (this.#ollamaCliReal) return this.#ollamaCliReal
    for (const d of (process.env.PATH ?? '').split(delimiter)) {
      if (!d) continue
      try {
        const real = realpathSync(join(d, 'ollama'))
        accessSync(real, constants.X_OK)
        this.#ollamaCliReal = real
        return real
      } catch {
        // not here
      }
    }
    return 'ollama'
  }

  /** The block as `render` reads it, for the metrics: the same parser, so the figures agree with the chart's. */
  #metricsFromBlock(block: string, answered: boolean): void {
    if (!this.#metrics || !this.#parseBlock || !this.#problems) return
    const lines = block.split('\n').slice(1).map((text, i) => ({ text, no: i + 2 }))
    const { sample } = this.#parseBlock('system', formatTs(Date.now()), 1, lines, this.#problems)
    this.#metrics.system(sample, answered)
  }

  /** /api/ps first; the CLI only when the server answered (it can relaunch the macOS app). */
  async #ollamaText(): Promise<{ text: string; answered: boolean }> {
    const api = await fetchApiPs(this.#cfg.ollamaUrl, API_TIMEOUT_MS, this.#abort.signal)
    if (!api.ok) {
      this.#sourceError('api-ps', api.error)
      return { text: '', answered: false }
    }
    this.#lastSourceErrors.delete('api-ps')
    let cli = ''
    if (this.#ollamaCli !== 'no') {
      const env = { ...process.env, OLLAMA_HOST: this.#cfg.ollamaUrl }
      const r = await runCommand(this.#ollamaCliPath(), ['ps'], COMMAND_TIMEOUT_MS, env, this.#abort.signal)
      if (r.ok) {
        this.#ollamaCli = 'yes'
        cli = r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`
      } else if (r.missing) {
        this.#ollamaCli = 'no'
        this.#sourceError('ollama-ps', r.error)
      } else this.#sourceError('ollama-ps', r.error)
    }
    return { text: `${cli}${api.body}\n`, answered: true }
  }

  /** Recorded in the trace every time; logged when it starts or changes. */
  #sourceError(source: string, message: string): void {
    this.#events.push(event('source-error', { ts: formatTs(Date.now()), source, message }))
    if (this.#lastSourceErrors.get(source) !== message) {
      this.#lastSourceErrors.set(source, message)
      this.#log.warn({ source }, message)
    }
  }

  /** Said once when the writes to a file start failing, and again if the error changes; `status` shows it all along. */
  #writeFailed(f: AppendFile): void {
    if (this.#closed || f.lastError === undefined) return
    if (this.#failing.get(f) === f.lastError) return
    this.#failing.set(f, f.lastError)
    this.#error(`cannot write ${f.path}: ${f.lastError}; holding back what is not written (${f.pendingBytes} bytes, up to ${mib(f.maxPendingBytes)}) and retrying every sample`)
  }

  /** Each system sample retries what is held back, and says when writing works again. */
  #retryWrites(): void {
    for (const f of this.#outputs()) {
      if (f.pendingBytes > 0) f.flush()
      if (f.lastError !== undefined) this.#writeFailed(f)
      else if (this.#failing.delete(f)) this.#log.info({ file: f.path, droppedBytes: f.droppedBytes }, 'writing again: what was held back is written')
    }
  }

  #outputs(): AppendFile[] {
    return this.#logFile ? [this.#proc, this.#sys, this.#logFile] : [this.#proc, this.#sys]
  }

  /** Samples dropped while the disk was full leave a gap; the trace says why. */
  #reportDropped(): void {
    for (const [name, f] of [['process', this.#proc], ['system', this.#sys]] as const) {
      const before = this.#droppedReported.get(f.path) ?? 0
      if (f.droppedBytes === before) continue
      this.#droppedReported.set(f.path, f.droppedBytes)
      this.#events.push(event('dropped', { ts: formatTs(Date.now()), file: name, bytes: f.droppedBytes - before, reason: 'more was held back than the limit while writes failed' }))
    }
  }

  /** The trace files or their directory removed while running: say so, start new files. */
  #checkFiles(): void {
    if (existsSync(this.#proc.path) && existsSync(this.#sys.path)) {
      this.#retryWrites()
      return
    }
    const gone = existsSync(this.#cfg.dir) ? 'the trace files were removed' : `the trace directory ${this.#cfg.dir} was removed`
    try {
      mkdirSync(this.#cfg.dir, { recursive: true, mode: 0o700 })
      this.#logFile?.reopen()
      this.#proc.close()
      this.#sys.close()
      const files = this.#fileNames()
      this.#openFiles(files)
      this.#lock = { ...this.#lock, ...files }
      rewriteLock(this.#cfg.dir, this.#lock)
      this.#events.push(event('start', { version: this.#version, pid: process.pid, reason: 'files removed', interval_ms: this.#cfg.intervalMs, system_interval_ms: this.#cfg.systemIntervalMs }))
      this.#error(`${gone} while tracing; what was written before is lost with them; new files: ${files.procFile}, ${files.systemFile}`)
    } catch (e) {
      this.#error(`${gone} while tracing, and it cannot be recreated: ${(e as Error).message}`)
    }
  }

  #marksSize(): number {
    try {
      return lstatSync(join(this.#cfg.dir, MARKS_NAME)).size
    } catch {
      return 0
    }
  }

  /** Markers that `memtrace mark` appended since the last block. */
  #readMarks(): void {
    const size = this.#marksSize()
    if (size < this.#marksOffset) this.#marksOffset = 0
    if (size === this.#marksOffset) return
    let text: string
    try {
      text = readNoFollow(join(this.#cfg.dir, MARKS_NAME), { single: true }).data.subarray(this.#marksOffset, size).toString('utf8')
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'markers not read')
      this.#marksOffset = size
      return
    }
    const complete = text.lastIndexOf('\n') + 1
    this.#marksOffset += Buffer.byteLength(text.slice(0, complete))
    for (const line of text.slice(0, complete).split('\n')) {
      if (!line) continue
      try {
        const m = JSON.parse(line) as { ts?: string; text?: string }
        if (typeof m.ts === 'string' && typeof m.text === 'string') this.#events.push(event('marker', { ts: m.ts, text: m.text }))
      } catch {
        this.#log.warn({ line: line.slice(0, 200) }, 'ignored a damaged marker line')
      }
    }
  }

  #writeStatus(running: boolean): void {
    if (this.#closed && running) return
    const late = [...(this.#procTicker?.lateness ?? []), ...(this.#sysTicker?.lateness ?? [])]
    const problem = this.#statusFile.write({
      ...this.#status,
      running,
      updatedAt: formatTs(Date.now()),
      lateness: { p50Ms: percentile(late, 0.5), p99Ms: percentile(late, 0.99), maxMs: late.reduce((m, v) => (v > m ? v : m), 0) },
      writes: { process: writeState(this.#proc), system: writeState(this.#sys), log: writeState(this.#logFile) },
    })
    // Logged when it starts or changes; the log may be on the same full disk, and holds it back.
    if (problem !== this.#statusProblem && problem !== undefined) this.#log.warn(problem)
    this.#statusProblem = problem
  }
}

function writeState(f: AppendFile | undefined): WriteState {
  if (!f) return { pendingBytes: 0, droppedBytes: 0 }
  return {
    pendingBytes: f.pendingBytes,
    droppedBytes: f.droppedBytes,
    ...(f.lastError !== undefined ? { error: f.lastError } : {}),
    ...(f.failingSinceMs !== undefined ? { failingSince: formatTs(f.failingSinceMs) } : {}),
  }
}

/** A traced process for the metrics: its role, model and slots; its command line stays here. */
/** What a process's command line says for the metrics: its role and a runner's slots. It stays here. */
type CommandFacts = Pick<MetricProcess, 'role' | 'parallel' | 'ctxCells'>

function commandFacts(p: ProcInfo): CommandFacts {
  const role = isServer(p.command) ? 'server' : classify(p.comm, p.command).role === 'runner' ? 'runner' : 'other'
  if (role !== 'runner') return { role }
  const num = (re: RegExp) => {
    const m = re.exec(p.command)
    return m ? Number(m[1]) : undefined
  }
  const parallel = num(PARALLEL_ARG_RE)
  const ctxCells = num(/\s(?:-c|--ctx-size)[\s=](\d+)/)
  return { role, ...(parallel !== undefined ? { parallel } : {}), ...(ctxCells !== undefined ? { ctxCells } : {}) }
}

/** The server's environment (Linux, same user or root); empty when unreadable. */
function serverEnv(pid: number): Record<string, string> {
  try {
    const out: Record<string, string> = {}
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\u0000')) {
      const i = kv.indexOf('=')
      if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1)
    }
    return out
  } catch {
    return {}
  }
}
