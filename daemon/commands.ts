import { formatHostPort } from './metrics-address.js'
import { spawn } from 'node:child_process'
import { closeSync, existsSync, lstatSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pino, type Logger } from 'pino'
import { formatDuration } from '../core/parse/time.js'
import { ConfigError, parseStartArgs } from './config.js'
import { Daemon } from './daemon.js'
import { MARKS_NAME } from './marks.js'
import { isHolderAlive, type LockInfo, platform, readLock } from './lock.js'
import { requestStop } from './stop-request.js'
import { ensureDir, openAppend, removeCreated, UnsafePathError } from './safe-open.js'
import { type AppendFile, LOG_MAX_PENDING, logDestination, MAX_PENDING, mib } from './sink.js'
import { type DaemonStatus, readStatus, type WriteState } from './status-file.js'
import { CommandError } from '../core/errors.js'

export const START_HELP = `Usage: memtrace start [options]

Starts the tracing daemon in the background and returns. It samples the Ollama
processes every --interval and the system every --system-interval into
  DIR/ollama-process-memtrace-YYYYMMDD-HHMMSS.tsv
  DIR/system-memtrace-YYYYMMDD-HHMMSS.log
and logs to DIR/memtrace.log.

Options:
  --dir DIR               trace directory (default ./ollama-memtrace)
  --interval 1s           process sampling interval
  --system-interval 5s    system sampling interval
  --match REGEX           processes to trace besides the server's descendants
                          (default: ollama|mlx|runner)
  --ollama-url URL        the server (default from OLLAMA_HOST, else http://127.0.0.1:11434)
  --metrics [HOST:]PORT   also serve Prometheus metrics at http://HOST:PORT/metrics
                          (HOST defaults to 127.0.0.1; each scrape is answered
                          from the last sample; see docs/fleet.md)
  --metrics-tls-cert FILE, --metrics-tls-key FILE
                          serve the metrics over HTTPS with this PEM certificate and key
  --metrics-web-config FILE
                          Prometheus's web-config file (tls_server_config,
                          basic_auth_users with bcrypt hashes): HTTPS and users
  --metrics-runtime       with --metrics, also memtrace's own process_* and
                          nodejs_* figures (prom-client's defaults)
  --server-log PATH       follow the server's log file (found by itself for the macOS
                          app, Homebrew, a systemd unit and a Docker or Podman
                          container), keeping only its memory lines in
                          DIR/ollama-server-memtrace-YYYYMMDD-HHMMSS.log
  --server-log-cmd CMD    follow a command's stdout and stderr instead
                          (kubectl logs -f POD)
  --foreground            run in this terminal, logging to stderr (for service managers)
  -h, --help              this text`

export const STOP_HELP = `Usage: memtrace stop [--dir DIR]

Stops the daemon tracing into DIR and returns when its files are closed.`

export const STATUS_HELP = `Usage: memtrace status [--dir DIR]

Says whether a daemon is tracing into DIR, with its pid, uptime, files and their
sizes, samples written, the last sample's time, missed ticks and the last error.`

export const MARK_HELP = `Usage: memtrace mark [--dir DIR] "text"

Adds a marker to the running daemon's trace at this moment: it is drawn as a
labelled vertical line.`


export { CommandError }

function dirOption(argv: string[]): { dir: string; help: boolean; rest: string[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { dir: { type: 'string', default: 'ollama-memtrace' }, help: { type: 'boolean', short: 'h', default: false } },
  })
  return { dir: resolve(values.dir as string), help: values.help as boolean, rest: positionals }
}

function describeHolder(h: LockInfo): string {
  return `a memtrace daemon is already tracing there (pid ${h.pid}, since ${h.startedAt})\n  ${h.procFile}\n  ${h.systemFile}`
}

export async function cmdStart(argv: string[], version: string, out: NodeJS.WritableStream): Promise<number> {
  let cfg
  try {
    cfg = parseStartArgs(argv, process.env)
  } catch (e) {
    if (e instanceof ConfigError) throw new CommandError(e.message, 1)
    throw e
  }
  if (cfg === 'help') {
    out.write(`${START_HELP}\n`)
    return 0
  }
  if (!cfg.foreground) return startInBackground(argv, cfg.dir, out)
  let dest: AppendFile | undefined
  let created: string | undefined
  let logExisted = true
  // A start refused from here on leaves nothing behind: no lock, no empty log, no folder it made.
  const refuse: (msg: string, code: number) => never = (msg, code) => {
    dest?.close()
    if (dest && !logExisted) removeIfEmpty(dest.path)
    removeCreated(cfg.dir, created)
    process.send?.({ ok: false, error: msg, ...(code === 3 ? { code } : {}) })
    throw new CommandError(msg, code)
  }
  try {
    // The directory first, private to its owner; then the log, never through a link.
    created = ensureDir(cfg.dir)
    logExisted = !cfg.daemonized || exists(join(cfg.dir, 'memtrace.log'))
    dest = logDestination(cfg.daemonized ? cfg.dir : undefined)
  } catch (e) {
    refuse(`cannot trace into ${cfg.dir}: ${(e as Error).message}`, 2)
  }
  const log: Logger = pino({ base: { pid: process.pid } }, dest)
  const daemon = new Daemon(cfg, log, version, dest)
  let opened
  try {
    opened = daemon.open()
  } catch (e) {
    refuse(`cannot trace into ${cfg.dir}: ${(e as Error).message}`, 2)
  }
  if ('holder' in opened) refuse(describeHolder(opened.holder), 3)
  let metricsUrl: string | undefined
  let reread: (() => string | undefined) | undefined
  try {
    ;({ url: metricsUrl, reread } = (await daemon.serveMetrics()) ?? {})
  } catch (e) {
    // Nothing was sampled yet: the empty files and the lock go, and the start fails with the reason.
    daemon.abandon()
    refuse(`cannot serve metrics on ${cfg.metrics ? formatHostPort(cfg.metrics) : ''}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 2)
  }
  daemon.start()
  let exiting = false
  const shutdown = (signal: string) => {
    if (exiting) return
    exiting = true
    void daemon.stop(signal).then(() => {
      process.exitCode = 0
      // The files are closed and the lock is gone: nothing of ours keeps the loop alive, and a handle
      // still tearing down (a socket, a DNS answer, a manifest pass) may hold the exit for 200 ms at most.
      setTimeout(() => process.exit(0), 200).unref()
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  if (cfg.platform === 'win32') daemon.onStopRequest = () => shutdown('memtrace stop')
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGHUP', () => {
    daemon.reopen()
    // The metrics' certificate, key and users too (a renewed certificate); messages name files, never a password or a hash.
    const failed = reread?.()
    if (failed !== undefined) log.error(`the metrics' certificate and users were not read again; the old ones are kept: ${failed}`)
    else if (reread && cfg.metricsAccess) log.info("read the metrics' certificate and users again")
  })
  if (process.send) {
    process.send({ ok: true, lock: opened.lock, staleFrom: opened.staleFrom, metricsUrl })
    process.disconnect()
  } else {
    out.write(`tracing into ${cfg.dir} (pid ${process.pid}); Ctrl-C stops\n  ${opened.lock.procFile}\n  ${opened.lock.systemFile}\n${metricsUrl ? `  metrics: ${metricsUrl}\n` : ''}`)
  }
  return new Promise<number>(() => {
    /* runs until a signal stops it */
  })
}

/** Whether anything (a link included) is at `path`. */
function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/** Removes a file this start created and wrote nothing to. */
function removeIfEmpty(path: string): void {
  try {
    if (lstatSync(path).size === 0) unlinkSync(path)
  } catch {
    /* gone already */
  }
}

export async function startInBackground(argv: string[], dir: string, out: NodeJS.WritableStream): Promise<number> {
  const holder = readLock(dir)
  if (holder && isHolderAlive(holder)) throw new CommandError(describeHolder(holder), 3)
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string, 'start', ...argv, '--foreground', '--daemonized'], {
    detached: true,
    // Windows: no console window for the daemon, nor for the commands it runs.
    windowsHide: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    cwd: process.cwd(),
  })
  const reply = await new Promise<{ ok: boolean; error?: string; code?: number; lock?: LockInfo; staleFrom?: number; metricsUrl?: string }>((res) => {
    const timer = setTimeout(() => res({ ok: false, error: 'the daemon did not report within 10 s; see memtrace.log' }), 10_000)
    child.once('message', m => {
      clearTimeout(timer)
      res(m as { ok: boolean })
    })
    child.once('exit', code => {
      clearTimeout(timer)
      res({ ok: false, error: `the daemon exited at once (status ${code}); see ${dir}/memtrace.log` })
    })
  })
  child.unref()
  child.channel?.unref()
  if (!reply.ok || !reply.lock) throw new CommandError(reply.error ?? 'the daemon did not start', reply.code ?? 2)
  if (reply.staleFrom !== undefined) out.write(`took over a stale lock: its daemon, pid ${reply.staleFrom}, is gone (that pid is free or now another process)\n`)
  out.write(`memtrace daemon started (pid ${reply.lock.pid}), tracing into ${dir}\n  ${reply.lock.procFile}\n  ${reply.lock.systemFile}\n  log: ${reply.lock.logFile}\n${reply.metricsUrl ? `  metrics: ${reply.metricsUrl}\n` : ''}Stop it with: memtrace stop${dir === resolve('ollama-memtrace') ? '' : ` --dir ${dir}`}\n`)
  return 0
}

export async function cmdStop(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { dir, help } = dirOption(argv)
  if (help) {
    out.write(`${STOP_HELP}\n`)
    return 0
  }
  const lock = readLock(dir)
  // Only the process the lock names, by PID and start time: a PID reused by
  // another process (a `tail -f` of the log) is never signalled.
  if (!lock || !isHolderAlive(lock)) throw new CommandError(`no memtrace daemon is tracing into ${dir}`, 1)
  if (platform() === 'win32') await stopByRequest(dir, lock)
  else await stopBySignal(dir, lock)
  const st = readStatus(dir)
  out.write(`stopped (pid ${lock.pid}) after ${st?.processSamples ?? '?'} process and ${st?.systemSamples ?? '?'} system samples\n  ${lock.procFile}\n  ${lock.systemFile}\nRender with: memtrace render --dir ${dir}\n`)
  return 0
}

/** SIGTERM, then waits until the holder is gone. */
async function stopBySignal(dir: string, lock: LockInfo): Promise<void> {
  try {
    process.kill(lock.pid, 'SIGTERM')
  } catch (e) {
    // Another user's daemon (started with sudo, say): not ours to stop.
    if ((e as NodeJS.ErrnoException).code === 'EPERM') throw new CommandError(`the daemon tracing into ${dir} (pid ${lock.pid}) belongs to another user: stop it as that user (sudo memtrace stop --dir ${dir})`, 2)
    throw e
  }
  const deadline = Date.now() + 5000
  while (isHolderAlive(lock)) {
    if (Date.now() > deadline) throw new CommandError(`pid ${lock.pid} did not stop within 5 s`, 2)
    await new Promise(r => setTimeout(r, 25))
  }
}

/**
 * Windows, which has no signal that lets a process close its files: a stop
 * request in the trace directory, which the daemon takes at its next process
 * sample. Done when the daemon released its lock (the last thing it does
 * before it exits); a lock still there after 10 s is checked once more.
 */
async function stopByRequest(dir: string, lock: LockInfo): Promise<void> {
  try {
    requestStop(dir, lock)
  } catch (e) {
    throw new CommandError(`cannot ask the daemon tracing into ${dir} to stop: ${(e as Error).message}`, 2)
  }
  const deadline = Date.now() + 10_000
  while (readLock(dir)?.startedAt === lock.startedAt) {
    if (Date.now() > deadline) {
      if (!isHolderAlive(lock)) return
      throw new CommandError(`pid ${lock.pid} did not stop within 10 s (its stop request is left in ${dir})`, 2)
    }
    await new Promise(r => setTimeout(r, 50))
  }
  // The lock is gone: the files are closed; the process ends within moments.
}

function size(path: string): string {
  try {
    const b = statSync(path).size
    return b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${Math.ceil(b / 1e3)} KB`
  } catch {
    return 'missing'
  }
}

export async function cmdStatus(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { dir, help } = dirOption(argv)
  if (help) {
    out.write(`${STATUS_HELP}\n`)
    return 0
  }
  const lock = readLock(dir)
  const st = readStatus(dir)
  const alive = lock !== undefined && isHolderAlive(lock)
  if (!alive) {
    out.write(`not running in ${dir}${lock ? ` (a stale lock of pid ${lock.pid} is left; the next start takes it over)` : ''}\n`)
    if (st) out.write(`last run: pid ${st.pid}, ${st.processSamples} process and ${st.systemSamples} system samples, last at ${st.lastProcessSample ?? 'never'}\n  ${st.procFile}\n  ${st.systemFile}\n`)
    if (st?.lastError) out.write(`last error: ${st.lastError.at} ${st.lastError.message}\n`)
    return 1
  }
  const up = Date.now() - Date.parse(lock.startedAt)
  const s = st && st.pid === lock.pid ? st : undefined
  const lines = [
    `running in ${dir}`,
    `  pid ${lock.pid}, up ${formatDuration(up)} (since ${lock.startedAt})`,
    `  ${lock.procFile} (${size(lock.procFile)})`,
    `  ${lock.systemFile} (${size(lock.systemFile)})`,
    `  log ${lock.logFile} (${size(lock.logFile)})`,
  ]
  if (s) {
    lines.push(`  samples: ${s.processSamples} process (${s.processRows} rows), ${s.systemSamples} system`)
    lines.push(`  last sample: ${s.lastProcessSample ?? 'none yet'} (process), ${s.lastSystemSample ?? 'none yet'} (system)`)
    lines.push(`  missed ticks: ${s.missedTicks.process} process, ${s.missedTicks.system} system; tick lateness p99 ${s.lateness.p99Ms} ms`)
    if (s.metricsUrl) lines.push(`  metrics: ${s.metricsUrl}`)
    if (s.serverLog) lines.push(s.serverLog.problem && s.serverLog.lines === 0 ? `  server log: ${s.serverLog.problem}` : `  server log: ${s.serverLog.from}, ${s.serverLog.lines} memory lines kept in ${s.serverLog.file}`)
    lines.push(`  last error: ${s.lastError ? `${s.lastError.at} ${s.lastError.message}` : 'none'}`)
    lines.push(...writeLines(s))
  }
  const stale = staleness(st, lock.pid)
  if (stale) lines.push(stale)
  if (!existsSync(dir)) lines.push(`  the trace directory ${dir} no longer exists`)
  out.write(`${lines.join('\n')}\n`)
  return 0
}

function kb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} KB`
}

/** Writes that fail now (a full disk), and what was dropped while they did. */
function writeLines(s: DaemonStatus): string[] {
  const out: string[] = []
  if (!s.writes) return out
  const files = { process: s.procFile, system: s.systemFile, log: s.logFile }
  for (const [name, w] of Object.entries(s.writes) as [keyof typeof files, WriteState][]) {
    const limit = mib(name === 'log' ? LOG_MAX_PENDING : MAX_PENDING)
    if (w.error) out.push(`  writes failing since ${w.failingSince ?? '?'}: ${files[name]}: ${w.error}; ${kb(w.pendingBytes)} held back (up to ${limit}), retried every system sample`)
    if (w.droppedBytes > 0) out.push(`  dropped: ${kb(w.droppedBytes)} of ${files[name]} (more than ${limit} held back while writes failed)`)
  }
  return out
}

/** A status file the daemon stopped updating (it cannot write it) is said to be old, with its age. */
function staleness(st: DaemonStatus | undefined, pid: number): string | undefined {
  if (!st || st.pid !== pid) return `  the status file ${st ? `is from another run (pid ${st.pid})` : 'cannot be read'}: the daemon has not written it; see its log`
  const age = Date.now() - Date.parse(st.updatedAt)
  const every = st.systemIntervalMs ?? 5000
  if (!(age > 3 * every + 5000)) return undefined
  return `  the status file is stale: last written ${formatDuration(age)} ago (${st.updatedAt}), every ${formatDuration(every)} expected; the figures above are from then`
}

export async function cmdMark(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { dir, help, rest } = dirOption(argv)
  if (help) {
    out.write(`${MARK_HELP}\n`)
    return 0
  }
  const text = rest.join(' ').trim()
  if (!text) throw new CommandError('give the marker text: memtrace mark "switched to llama3.3:70b"', 1)
  const lock = readLock(dir)
  if (!lock || !isHolderAlive(lock)) throw new CommandError(`no memtrace daemon is tracing into ${dir}: start one with memtrace start`, 1)
  const ts = new Date().toISOString()
  appendMark(`${dir}/${MARKS_NAME}`, `${JSON.stringify({ ts, text })}\n`)
  out.write(`marked ${ts}: ${text}\n`)
  return 0
}

/** One append of a whole line, never through a link: the daemon may be root and this user not. */
function appendMark(path: string, line: string): void {
  let fd
  try {
    fd = openAppend(path)
    writeSync(fd, line)
  } catch (e) {
    throw new CommandError(`cannot add the marker: ${e instanceof UnsafePathError ? e.message : `${path}: ${(e as Error).message}`}`, 2)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
