/**
 * `memtrace bench parallel` (seed 001): P identical requests at once, for
 * P = 1 … N, against the running server or one memtrace manages with a given
 * OLLAMA_NUM_PARALLEL. Finds the cliff, the throughput peak and the knee, and
 * says whether memory or compute caused the slowdown.
 */
import { join } from 'node:path'
import type { BenchStep } from '../schemas/index.js'
import { InputError } from '../core/errors.js'
import { formatTs } from '../core/parse/time.js'
import { generate, type GenerateResult, HttpError, loadedModels } from './ollama-client.js'
import { freePort, ManagedServer } from './managed-server.js'
import { latency } from './stats.js'
import { stepContext } from './run-context.js'
import { busySteps, cause, parallelVerdict, type ParallelVerdict } from './rules.js'
import { addMemory, fillWindow, finished, hostBefore, hostDuring, mean, memtrace, requestOptions, sd, sleep, type SweepArgs, type Timed, traced } from './sweep.js'

export interface ParallelArgs extends SweepArgs {
  model: string
  maxParallel: number
  /** Start a server of memtrace's own with this OLLAMA_NUM_PARALLEL; else use the running one. */
  numParallel?: number
  prompt: string
  userUrl: string
}

export async function runParallel(a: ParallelArgs, say: (line: string) => void): Promise<{ steps: BenchStep[]; verdict?: ParallelVerdict }> {
  const trace = join(a.out, 'trace')
  const server = a.numParallel !== undefined ? new ManagedServer(a.serveCmd, a.port ?? (await freePort()), join(a.out, 'server.log')) : undefined
  const url = server?.url ?? a.userUrl
  const opts = requestOptions(a)
  const steps: Timed[] = []
  const early = await traced(trace, url, server ? [server] : [], async (): Promise<BenchStep[] | undefined> => {
    if (server) {
      say(`starting a server with OLLAMA_NUM_PARALLEL=${a.numParallel}`)
      memtrace(['mark', '--dir', trace, `OLLAMA_NUM_PARALLEL=${a.numParallel}, restart`])
      await server.start({ OLLAMA_NUM_PARALLEL: String(a.numParallel), OLLAMA_KEEP_ALIVE: '-1' })
    } else if ((await loadedModels(url)) === undefined) throw new InputError(`no Ollama answered at ${url} (start it, set OLLAMA_HOST, or give --num-parallel for a server of memtrace's own)`)
    memtrace(['mark', '--dir', trace, 'warm-up'])
    try {
      for (let w = 0; w < Math.max(1, a.warmup); w++) await generate(url, a.model, a.prompt, opts)
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) throw new InputError(`${a.model}: ${e.message} (pull it first)`)
      // Seed 001's NUM_PARALLEL=10: the model never loaded. That is the result.
      const outcome = `did not load: ${(e as Error).message}`
      say(outcome)
      return [{ record: 'bench-step' as const, experiment: 'parallel' as const, step: 1, model: a.model, outcome, startedAt: formatTs(Date.now()), endedAt: formatTs(Date.now()), requests: 0 }]
    }
    for (let p = 1; p <= a.maxParallel; p++) steps.push(await finished(a, trace, await step(a, url, trace, p, opts, server, say)))
    return undefined
  })
  if (early) return { steps: early }
  await addMemory(trace, steps)
  // Nothing is named from steps measured on a busy host.
  const measured = busySteps(steps).length === 0 ? steps.filter(s => s.genTps !== undefined) : []
  const v = parallelVerdict(measured.map(s => ({ step: s.step, gen: { mean: s.genTps as number, sd: s.genTpsSd ?? 0 }, ...(s.totalTps !== undefined ? { total: { mean: s.totalTps, sd: s.totalTpsSd ?? 0 } } : {}) })))
  for (const s of steps) {
    const marks = (['cliff', 'peak', 'knee'] as const).filter(k => v?.[k] === s.step)
    if (marks.length) s.verdict = [...marks]
    if (v?.cliff !== undefined && s.step >= v.cliff && s.genTps !== undefined) s.cause = cause({ pageOuts: s.pageOuts ?? 0, swapGrowthBytes: s.swapGrowthBytes ?? 0, compressionGrowthBytes: s.compressionGrowthBytes ?? 0 })
  }
  return { steps: steps.map(({ measureFrom: _f, measureTo: _t, runnerPids: _p, ...s }) => s), ...(v ? { verdict: v } : {}) }
}

async function step(a: ParallelArgs, url: string, trace: string, p: number, opts: Parameters<typeof generate>[3], server: ManagedServer | undefined, say: (line: string) => void): Promise<Timed> {
  memtrace(['mark', '--dir', trace, `P=${p}`])
  const startedAt = formatTs(Date.now())
  const context = await stepContext(url, a.model, { ...(a.numParallel !== undefined ? { numParallel: a.numParallel } : {}), numCtx: a.numCtx }, server ? server.log() : '')
  // Against a server memtrace did not start, every `ollama serve` and its runners are the step's own work.
  const host = await hostBefore(trace, !server)
  const during = hostDuring(trace, !server)
  const measureFrom = Date.now()
  const all: GenerateResult[] = []
  const rates: number[] = []
  let failed = 0
  for (let r = 0; r < a.requests; r++) {
    if (r > 0) await sleep(a.cooldownMs)
    const t0 = performance.now()
    const round = await Promise.allSettled(Array.from({ length: p }, () => generate(url, a.model, a.prompt, opts)))
    const wall = (performance.now() - t0) / 1000
    const ok = round.flatMap(x => (x.status === 'fulfilled' ? [x.value] : []))
    failed += round.length - ok.length
    all.push(...ok)
    if (ok.length === p) rates.push(ok.reduce((n, x) => n + x.evalCount, 0) / wall)
  }
  await fillWindow(measureFrom)
  const measureTo = Date.now()
  const hostEnd = during()
  const out: Timed = {
    record: 'bench-step',
    experiment: 'parallel',
    step: p,
    model: a.model,
    outcome: failed === 0 ? 'ok' : `${failed} of ${a.requests * p} requests failed`,
    startedAt,
    endedAt: formatTs(Date.now()),
    requests: all.length,
    measureFrom,
    measureTo,
    ...(server ? { runnerPids: server.runnerPids() } : {}),
    ...host,
    ...hostEnd,
    ...context,
  }
  if (all.length > 0) {
    const ttft = all.map(x => x.ttftMs).sort((x, y) => x - y)
    out.genTps = mean(all.map(x => x.genTps))
    out.genTpsSd = sd(all.map(x => x.genTps))
    out.prefillTps = mean(all.map(x => x.prefillTps))
    out.prefillTpsSd = sd(all.map(x => x.prefillTps))
    out.ttftMs = mean(ttft)
    out.ttftMsSd = sd(ttft)
    Object.assign(out, latency(all))
    out.ttftMaxMs = ttft[ttft.length - 1] as number
  }
  if (rates.length > 0) {
    out.totalTps = mean(rates)
    out.totalTpsSd = sd(rates)
  }
  say(`P=${p}: ${out.genTps !== undefined ? `${out.genTps.toFixed(1)} t/s per request, ${out.totalTps?.toFixed(1) ?? '–'} t/s in all` : out.outcome}`)
  await sleep(a.cooldownMs)
  return out
}
