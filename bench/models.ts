/**
 * `memtrace bench models M1 M2 …` (seed 003): clean runs, one model at a
 * time on a server memtrace manages, smallest first. After each model it
 * unloads (keep_alive 0) and waits until /api/ps is empty, the runner has
 * exited and memory has come back, and records what was not given back. A
 * load that fails restarts the server and is tried once more; a model the
 * plan says will not fit gets a fresh server first.
 */
import { join } from 'node:path'
import type { BenchStep } from '../schemas/index.js'
import { formatTs } from '../core/parse/time.js'
import { generate, HttpError, loadedModels } from './ollama-client.js'
import { freePort, ManagedServer } from './managed-server.js'
import { memoryNow } from './plan-command.js'
import { runnerBytes } from '../core/plan.js'
import { findModel, modelDirs, readFacts } from '../core/model-files.js'
import { stepContext } from './run-context.js'
import { NOT_GIVEN_BACK_BYTES as SETTLED_BYTES } from './rules.js'
import { addMemory, fillWindow, finished, mean, memtrace, requestOptions, sd, sleep, type SweepArgs, type Timed, traced } from './sweep.js'

export interface ModelsArgs extends SweepArgs {
  models: string[]
  order: 'size' | 'given'
  prompts: string[]
  /** How long to wait for the memory to come back after an unload. */
  settleMs: number
}


export function ordered(models: string[], order: 'size' | 'given'): { model: string; sizeBytes?: number }[] {
  const dirs = modelDirs()
  const withSize = models.map(model => {
    // A manifest refused here is said when the model's plan is read: unsized, it runs last.
    const found = (() => {
      try {
        return findModel(dirs, model)
      } catch {
        return undefined
      }
    })()
    return found ? { model, sizeBytes: found.sizeBytes } : { model }
  })
  return order === 'given' ? withSize : [...withSize].sort((a, b) => (a.sizeBytes ?? Infinity) - (b.sizeBytes ?? Infinity))
}

export async function runModels(a: ModelsArgs, say: (line: string) => void): Promise<BenchStep[]> {
  const trace = join(a.out, 'trace')
  const server = new ManagedServer(a.serveCmd, a.port ?? (await freePort()), join(a.out, 'server.log'))
  const steps: Timed[] = []
  await traced(trace, server.url, [server], async () => {
    memtrace(['mark', '--dir', trace, 'server start, restart'])
    await startServer(server)
    for (const [i, m] of ordered(a.models, a.order).entries()) steps.push(await finished(a, trace, await runOne(a, server, trace, i + 1, m.model, say)))
  })
  await addMemory(trace, steps)
  return steps.map(({ measureFrom: _f, measureTo: _t, runnerPids: _p, ...s }) => s)
}

async function startServer(server: ManagedServer): Promise<void> {
  await server.start({ OLLAMA_KEEP_ALIVE: '-1', OLLAMA_MAX_LOADED_MODELS: '1' })
}

async function restart(server: ManagedServer): Promise<void> {
  await server.stop()
  await startServer(server)
}

/** Whether the plan says this model will not fit beside what is in use now. */
async function predictedNotToFit(model: string, numCtx: number): Promise<boolean> {
  let found
  try {
    found = findModel(modelDirs(), model)
  } catch {
    return false // a refused manifest: no plan, so no prediction; the load is tried
  }
  if (!found) return false
  const facts = await readFacts(found.blob)
  if (typeof facts === 'string') return false
  const h = await memoryNow()
  return h.osReserveBytes + runnerBytes(facts, found.sizeBytes, { numCtx, numParallel: 1, kvType: 'f16', flashAttention: true }) > h.memTotalBytes
}

async function runOne(a: ModelsArgs, server: ManagedServer, trace: string, n: number, model: string, say: (line: string) => void): Promise<Timed> {
  const restarted = await predictedNotToFit(model, a.numCtx)
  if (restarted) {
    say(`${model}: the plan says it will not fit beside what is in use: a fresh server first`)
    memtrace(['mark', '--dir', trace, `${model} will not fit: restart`])
    await restart(server)
  }
  memtrace(['mark', '--dir', trace, `model ${model}`])
  const startedAt = formatTs(Date.now())
  const before = (await memoryNow()).osReserveBytes
  // The peak counts from the load on: a clean run's peak is the model's, load included.
  const measureFrom = Date.now()
  const opts = requestOptions(a)
  let retried = false
  try {
    await generate(server.url, model, a.prompts[0] as string, opts)
  } catch (first) {
    // A model the server does not have is skipped as it is: a restart would not pull it.
    if (first instanceof HttpError && first.status === 404) {
      say(`${model}: skipped: ${first.message}`)
      return { record: 'bench-step', experiment: 'models', step: n, model, outcome: `skipped: ${first.message} (not pulled)`, startedAt, endedAt: formatTs(Date.now()), requests: 0, memBeforeBytes: before, retried, restarted }
    }
    say(`${model}: the load failed (${(first as Error).message}); restarting the server and trying once more`)
    retried = true
    memtrace(['mark', '--dir', trace, `${model} failed to load: restart`])
    await restart(server)
    try {
      await generate(server.url, model, a.prompts[0] as string, opts)
    } catch (e) {
      say(`${model}: skipped: ${(e as Error).message}`)
      return { record: 'bench-step', experiment: 'models', step: n, model, outcome: `skipped: ${(e as Error).message}`, startedAt, endedAt: formatTs(Date.now()), requests: 0, memBeforeBytes: before, retried, restarted }
    }
  }
  const results = []
  for (let r = 0; r < a.requests; r++) {
    if (r > 0) await sleep(a.cooldownMs)
    try {
      results.push(await generate(server.url, model, a.prompts[r % a.prompts.length] as string, opts))
    } catch (e) {
      say(`${model}: request ${r + 1} failed: ${(e as Error).message}`)
    }
  }
  await fillWindow(measureFrom)
  const measureTo = Date.now()
  const runnerPids = server.runnerPids()
  const context = await stepContext(server.url, model, { numCtx: a.numCtx }, server.log())
  const unloadMs = await unload(server, model, a)
  const after = await settle(before, a.settleMs)
  const out: Timed = {
    record: 'bench-step',
    experiment: 'models',
    step: n,
    model,
    outcome: results.length === a.requests ? 'ok' : `${a.requests - results.length} of ${a.requests} requests failed`,
    startedAt,
    endedAt: formatTs(Date.now()),
    requests: results.length,
    memBeforeBytes: before,
    memAfterBytes: after,
    notGivenBackBytes: after - before,
    notGivenBack: after - before > SETTLED_BYTES,
    retried,
    restarted,
    measureFrom,
    measureTo,
    runnerPids,
    ...context,
  }
  if (unloadMs !== undefined) out.unloadMs = unloadMs
  else out.outcome += '; did not unload in time'
  if (results.length > 0) {
    out.genTps = mean(results.map(r => r.genTps))
    out.genTpsSd = sd(results.map(r => r.genTps))
    out.prefillTps = mean(results.map(r => r.prefillTps))
    out.ttftMs = mean(results.map(r => r.ttftMs))
  }
  say(`${model}: ${out.genTps !== undefined ? `${out.genTps.toFixed(1)} t/s` : out.outcome}; unloaded in ${unloadMs !== undefined ? `${(unloadMs / 1000).toFixed(1)} s` : '—'}`)
  return out
}

/** keep_alive 0, then wait until /api/ps is empty and no runner is left; undefined when that did not happen in time. */
async function unload(server: ManagedServer, model: string, a: ModelsArgs): Promise<number | undefined> {
  const t0 = Date.now()
  await fetch(`${server.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model, keep_alive: 0 }), signal: AbortSignal.timeout(a.loadTimeoutMs) }).catch(() => undefined)
  while (Date.now() - t0 < a.loadTimeoutMs) {
    const listed = await loadedModels(server.url)
    if (listed !== undefined && listed.length === 0 && server.runnerPids().length === 0) return Date.now() - t0
    await sleep(100)
  }
  return undefined
}

/** The memory in use (no GPU query: this is polled) once it has come back to within 256 MiB of before, or after `settleMs`. */
async function settle(before: number, settleMs: number): Promise<number> {
  const t0 = Date.now()
  let used = (await memoryNow()).osReserveBytes
  while (used - before > SETTLED_BYTES && Date.now() - t0 < settleMs) {
    await sleep(250)
    used = (await memoryNow()).osReserveBytes
  }
  return used
}
