/** What every sweep shares: the daemon tracing it, each step's memory from that trace, and the statistics. */
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { jsonLine } from '../core/safe-text.js'
import { daemonGone, daemonStarted } from './guard.js'
import { spawnSync } from 'node:child_process'
import type { BenchStep } from '../schemas/index.js'
import { loadTrace, newestInDir } from '../render/index.js'
import { stepMemory, type TimedSample } from './step-memory.js'
import { InputError } from '../core/errors.js'
import { readLock } from '../daemon/index.js'
import { otherCpuPct, snapshot } from './host-load.js'
import { type ManagedServer, ServerError } from './managed-server.js'

const BIN = new URL('../bin/memtrace.js', import.meta.url).pathname

/** memtrace's own CLI: the sweeps start, mark and stop the daemon as a user would. */
export const memtrace = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
export const sleep = (ms: number) => new Promise(ok => setTimeout(ok, ms))

/** What every experiment is told: how to ask, how often, where to write. */
export interface SweepArgs {
  numCtx: number
  requests: number
  cooldownMs: number
  warmup: number
  seed: number
  temperature: number
  numPredict?: number
  loadTimeoutMs: number
  serveCmd: string[]
  /** The managed server's port (default: a free one). */
  port?: number
  out: string
}

/** The options of each request, from the sweep's settings. */
export function requestOptions(a: SweepArgs) {
  return { numCtx: a.numCtx, seed: a.seed, temperature: a.temperature, ...(a.numPredict !== undefined ? { numPredict: a.numPredict } : {}), timeoutMs: a.loadTimeoutMs }
}

/** A step, with the span its requests ran in and its runners' PIDs (not written out). */
export type Timed = BenchStep & { measureFrom?: number; measureTo?: number; runnerPids?: number[]; rssFrom?: number }

/** The shortest span a step's memory is read over: more than one sample of the daemon's 1 s, whatever the settings. */
export const MIN_WINDOW_MS = 2100

/** Waits until a step's window is long enough to hold samples of its own. */
export async function fillWindow(from: number): Promise<void> {
  const left = MIN_WINDOW_MS - (Date.now() - from)
  if (left > 0) await sleep(left)
}

/** What to do when a signal ends the sweep, once its servers and daemon are stopped (write what finished). */
let interrupted: ((signal: NodeJS.Signals) => void) | undefined
export function onInterrupt(f: ((signal: NodeJS.Signals) => void) | undefined): void {
  interrupted = f
}

/**
 * Runs a sweep under memtrace's daemon: starts it tracing `url` into
 * `trace`, and whatever happens (an error, Ctrl-C, SIGTERM) stops the
 * servers it was given and the daemon before it returns or the process dies.
 */
export async function traced<T>(trace: string, url: string, servers: ManagedServer[], body: () => Promise<T>): Promise<T> {
  // The managed server's log is followed too, so the trace says why memory moved (its file exists before the server starts).
  const serverLog = servers[0]?.logFile
  if (serverLog) appendFileSync(serverLog, '')
  // Told first: a bench killed during the start still has its daemon stopped.
  daemonStarted(trace)
  const started = memtrace(['start', '--dir', trace, '--ollama-url', url, '--system-interval', '1s', ...(serverLog ? ['--server-log', serverLog] : [])])
  if (started.status !== 0) {
    daemonGone(trace)
    throw new InputError(`memtrace start failed: ${started.stderr.trim()}`)
  }
  const onSignal = (sig: NodeJS.Signals) => {
    for (const s of servers) s.killNow()
    memtrace(['stop', '--dir', trace])
    try {
      interrupted?.(sig)
    } catch {
      // What finished is in results.jsonl already; dying of the signal comes first.
    }
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    process.kill(process.pid, sig) // and die of it, as without the handler
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await body()
  } catch (e) {
    if (e instanceof ServerError) throw new InputError(e.message)
    throw e
  } finally {
    // Its server's last stop is memtrace's own too: marked, so the chart does not call it a server that did not answer.
    if (servers.length) memtrace(['mark', '--dir', trace, 'sweep done, server stopped'])
    for (const s of servers) await s.stop()
    memtrace(['stop', '--dir', trace])
    daemonGone(trace)
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
  }
}

/**
 * A step that has ended, written at once to `results.jsonl` with its memory
 * so far: a sweep interrupted, even by SIGKILL, keeps the steps it finished.
 * The file is written again, whole, when the sweep ends (with the phases and
 * verdicts that need every step).
 */
export async function finished(a: SweepArgs, trace: string, s: Timed): Promise<Timed> {
  const copy: Timed = { ...s }
  try {
    await addMemory(trace, [copy])
  } catch {
    // The trace cannot be read now: the step's speeds still count; its memory is added at the end.
  }
  const { measureFrom: _f, measureTo: _t, runnerPids: _p, rssFrom: _r, ...line } = copy
  appendFileSync(join(a.out, 'results.jsonl'), `${jsonLine(line)}\n`)
  return s
}

/** Each step's memory, from the trace the daemon wrote during it. */
export async function addMemory(trace: string, steps: Timed[]): Promise<void> {
  const { procPath, sysPath } = newestInDir(trace, undefined)
  const samples: TimedSample[] = []
  const { trace: t } = await loadTrace(procPath, sysPath, r => {
    if (r.record === 'system-sample') samples.push({ tsMs: Date.parse(r.ts), sample: r })
  })
  for (const s of steps) {
    if (s.measureFrom === undefined || s.measureTo === undefined) continue
    Object.assign(s, stepMemory(t, samples, s.measureFrom, s.measureTo, s.runnerPids, s.rssFrom))
  }
}

export { mean, sd } from './stats.js'

/** memtrace's own processes: this one (and what it started: the server and its runners) and the daemon tracing into `trace`. */
function ourRoots(trace: string): number[] {
  return [process.pid, readLock(trace)?.pid ?? 0]
}

/** How busy the host was over a second with the server idle, just before a step's requests: the CPU others used and the load. */
export async function hostBefore(trace: string, anyServer = false): Promise<{ otherCpuPctBefore?: number; loadAvgBefore: number }> {
  const a = snapshot(ourRoots(trace), anyServer)
  await sleep(1000)
  const b = snapshot(ourRoots(trace), anyServer)
  const pct = otherCpuPct(a, b)
  return { ...(pct !== undefined ? { otherCpuPctBefore: pct } : {}), loadAvgBefore: b.load }
}

/** Starts reading how busy the host is during a step; the function it returns ends the reading. */
export function hostDuring(trace: string, anyServer = false): () => { otherCpuPct?: number; loadAvg: number } {
  const a = snapshot(ourRoots(trace), anyServer)
  return () => {
    const b = snapshot(ourRoots(trace), anyServer)
    const pct = otherCpuPct(a, b)
    return { ...(pct !== undefined ? { otherCpuPct: pct } : {}), loadAvg: b.load }
  }
}
