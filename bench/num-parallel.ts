/**
 * `memtrace bench num-parallel` (seed 000): one request at a time against a
 * server restarted with OLLAMA_NUM_PARALLEL = 1, 2, … so that only memory
 * grows from step to step. It traces itself with the daemon, marks each step,
 * and names the phases and the cause of each slowdown. `bench num-ctx`
 * (seed 004) is the same sweep at NUM_PARALLEL=1 over doubled contexts.
 */
import { join } from 'node:path'
import type { BenchStep } from '../schemas/index.js'
import { InputError } from '../core/errors.js'
import { formatTs } from '../core/parse/time.js'
import { generate, HttpError, loadedModels } from './ollama-client.js'
import { freePort, ManagedServer } from './managed-server.js'
import { latency } from './stats.js'
import { stepContext } from './run-context.js'
import { busySteps, npCause, phases } from './rules.js'
import { addMemory, fillWindow, finished, hostBefore, hostDuring, mean, memtrace, requestOptions, sd, sleep, type SweepArgs, type Timed, traced } from './sweep.js'

export interface NumParallelArgs extends SweepArgs {
  model: string
  minNp: number
  maxNp: number
  prompt: string
  userUrl: string
}


/** One step of a sweep that restarts the server: its NUM_PARALLEL and context, and the step it is recorded as. */
export interface Point {
  step: number
  np: number
  numCtx: number
  /** `NUM_PARALLEL=4` or `num_ctx=8192`: its marker and its lines on stderr. */
  label: string
}

/** Seed 000's sweep: NUM_PARALLEL from --min-np to --max-np at one context. */
export const npPoints = (a: NumParallelArgs): Point[] => Array.from({ length: a.maxNp - a.minNp + 1 }, (_, i) => ({ step: a.minNp + i, np: a.minNp + i, numCtx: a.numCtx, label: `NUM_PARALLEL=${a.minNp + i}` }))

/** Seed 004's "KV cache grows with context": one slot, the context doubled from --min-ctx to --max-ctx. */
export function ctxPoints(minCtx: number, maxCtx: number): Point[] {
  const out: Point[] = []
  for (let c = minCtx; c <= maxCtx; c *= 2) out.push({ step: c, np: 1, numCtx: c, label: `num_ctx=${c}` })
  return out
}

export async function runNumParallel(a: NumParallelArgs, say: (line: string) => void, points: Point[] = npPoints(a), experiment: 'num-parallel' | 'num-ctx' = 'num-parallel'): Promise<BenchStep[]> {
  const held = await loadedModels(a.userUrl)
  if (held && held.length > 0) say(`warning: the Ollama at ${a.userUrl} holds ${held.join(', ')}: memory it takes is memory this sweep cannot use (it is left alone)`)
  const trace = join(a.out, 'trace')
  const server = new ManagedServer(a.serveCmd, a.port ?? (await freePort()), join(a.out, 'server.log'))
  const steps: Timed[] = []
  await traced(trace, server.url, [server], async () => {
    for (const p of points) steps.push(await finished(a, trace, await step({ ...a, numCtx: p.numCtx }, server, trace, p, experiment, say)))
  })
  await addMemory(trace, steps)
  // Phases over the steps that ran (a step that did not load is no speed of 0), and none on a busy host.
  const ran = steps.filter(s => s.genTps !== undefined)
  const named = busySteps(steps).length === 0 ? phases(ran.map(s => ({ mean: s.genTps as number, sd: s.genTpsSd ?? 0 }))) : []
  for (const [i, s] of ran.entries()) {
    const phase = named[i]
    if (!phase) continue
    s.phase = phase
    const c = npCause(phase)
    if (c) s.cause = c
  }
  return steps.map(({ measureFrom: _f, measureTo: _t, runnerPids: _p, rssFrom: _r, ...s }) => s)
}

async function step(a: NumParallelArgs, server: ManagedServer, trace: string, p: Point, experiment: 'num-parallel' | 'num-ctx', say: (line: string) => void): Promise<Timed> {
  const np = p.np
  const label = p.label
  const base = { record: 'bench-step' as const, experiment, step: p.step, model: a.model, startedAt: formatTs(Date.now()) }
  // Marked as a restart: the chart draws the server's gap as this marker, not as a server that did not answer.
  memtrace(['mark', '--dir', trace, `${label}, restart`])
  say(`${label}: restarting the server`)
  const opts = requestOptions(a)
  await server.start({ OLLAMA_NUM_PARALLEL: String(np), OLLAMA_KEEP_ALIVE: '-1' })
  try {
    for (let w = 0; w < a.warmup; w++) await generate(server.url, a.model, a.prompt, opts)
  } catch (e) {
    const context = await stepContext(server.url, a.model, { numParallel: np, numCtx: p.numCtx }, server.log())
    await server.stop()
    // A model the server does not have is no result of the sweep: said once.
    if (e instanceof HttpError && e.status === 404) throw new InputError(`${a.model}: ${e.message} (pull it first)`)
    say(`${label}: did not load: ${(e as Error).message}`)
    return { ...base, ...context, outcome: `did not load: ${(e as Error).message}`, endedAt: formatTs(Date.now()), requests: 0 }
  }
  const effective = server.effectiveParallel()
  const context = await stepContext(server.url, a.model, { numParallel: np, numCtx: p.numCtx }, server.log())
  // The runner is loaded and idle from here: its RSS counts from now, a second before the requests.
  const rssFrom = Date.now()
  const host = await hostBefore(trace)
  const during = hostDuring(trace)
  const measureFrom = Date.now()
  const results = []
  for (let r = 0; r < a.requests; r++) {
    if (r > 0) await sleep(a.cooldownMs)
    try {
      results.push(await generate(server.url, a.model, a.prompt, opts))
    } catch (e) {
      say(`${label}: request ${r + 1} failed: ${(e as Error).message}`)
    }
  }
  await fillWindow(measureFrom)
  const measureTo = Date.now()
  const hostEnd = during()
  const runnerPids = server.runnerPids()
  await sleep(a.cooldownMs)
  await server.stop()
  const gen = results.map(r => r.genTps)
  const out: Timed = {
    ...base,
    outcome: results.length === a.requests ? 'ok' : results.length === 0 ? 'no request answered' : `${a.requests - results.length} of ${a.requests} requests failed`,
    endedAt: formatTs(Date.now()),
    requests: results.length,
    measureFrom,
    measureTo,
    runnerPids,
    rssFrom,
    ...host,
    ...hostEnd,
    ...context,
  }
  if (results.length > 0) {
    out.genTps = mean(gen)
    out.genTpsSd = sd(gen)
    out.prefillTps = mean(results.map(r => r.prefillTps))
    out.prefillTpsSd = sd(results.map(r => r.prefillTps))
    out.ttftMs = mean(results.map(r => r.ttftMs))
    out.ttftMsSd = sd(results.map(r => r.ttftMs))
    Object.assign(out, latency(results))
  }
  if (effective !== undefined) {
    out.effectiveNp = effective
    out.npMismatch = effective !== np
  }
  say(`${label}: ${out.genTps !== undefined ? `${out.genTps.toFixed(1)} t/s` : out.outcome}${out.npMismatch ? ` (the runner got NUM_PARALLEL=${effective})` : ''}`)
  return out
}
