/** `memtrace bench <experiment>`: the seeds' experiments as commands that trace themselves. */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { parseArgs } from 'node:util'
import { spawnSync } from 'node:child_process'
import { InputError, UsageError } from '../core/errors.js'
import { ollamaUrlFromEnv } from '../daemon/index.js'
import { runnerMemoryIn } from '../render/index.js'
import { localStamp } from '../core/parse/time.js'
import { duration, whole } from './args.js'
import { jsonLine, oneLine } from '../core/safe-text.js'
import { ctxPoints, runNumParallel } from './num-parallel.js'
import { capContext, type KvType, kvBytesPerSlot, type ModelFacts, plan, runnerBytes } from '../core/plan.js'
import { type PlannedMax, recommendation } from './recommend.js'
import { memoryNow } from './plan-command.js'
import { findModel, modelDirs, readFacts } from '../core/model-files.js'
import { busyText, chart, markdown, markdownModels, markdownParallel, type PerSlot, type RunnerPlan, slope } from './results.js'
import { runModels } from './models.js'
import { runParallel } from './parallel.js'
import { released } from './guard.js'
import { managedPids } from './managed-server.js'
import { onInterrupt } from './sweep.js'
import type { BenchStep } from '../schemas/index.js'

/** Seed 000's prompt. */
export const EMAIL_PROMPT = 'Write a Python function that validates an email address using regex. Include type hints, error handling, docstring, and 3 example test cases.'

export const BENCH_HELP = `Usage: memtrace bench num-parallel --model M [options]
       memtrace bench num-ctx --model M [--min-ctx N] [--max-ctx N] [options]
       memtrace bench parallel --model M [--max-parallel N] [--num-parallel NP] [options]
       memtrace bench models M1 M2 … [--prompts FILE] [--order size|given] [options]
       memtrace bench compare A/results.jsonl B/results.jsonl

Seed 000's experiment: restarts a server memtrace manages (never your own)
with OLLAMA_NUM_PARALLEL = 1 … --max-np, sends one request at a time, and
traces it all. Writes into --out: results.jsonl (memtrace schema bench-step),
results.md, results.svg, memory.svg (the memory chart, one marker per step),
the traces and the server's log.

Seed 004's "KV cache grows with context" (num-ctx): the same at
NUM_PARALLEL=1, with num_ctx doubled from --min-ctx (2048) to --max-ctx
(32768), the same table, charts and rules.

Seed 001's experiment (parallel): P identical requests at once for P = 1 …
--max-parallel (default 4), against the running server, or with
--num-parallel NP a server memtrace manages; finds the cliff (per-request
speed under half of P=1's), the throughput peak and the knee.

Options:
  --model M            the model (required)
  --num-ctx N          context per slot (default 4096)
  --min-np N, --max-np N   num-parallel: the NUM_PARALLEL range (default 1 to 15)
  --max-parallel N     parallel: the most concurrent requests (default 4)
  --num-parallel NP    parallel: run a server of memtrace's own with this NUM_PARALLEL
  --requests N         measured requests (parallel: rounds of P) per step (default 5)
  --warmup N           requests before measuring, to load the model (default 1; 0: the first
                       measured request loads it)
  --cooldown D         pause between requests (default 3s)
  --prompt TEXT        the prompt (default: seed 000's email-validation prompt)
  --seed N, --temperature T   sampling (default 42 and 0)
  --num-predict N      tokens to generate (default: the server's)
  --load-timeout D     how long a load or request may take (default 5m)
  --settle D           models: how long to wait for memory to come back after an unload (default 30s)
  --prompts FILE       models: prompts, one per line, used in turn
  --order size|given   models: smallest first (default), or as given
  --serve-cmd "CMD"    the server to run (default "ollama serve")
  --port N             the port of that server, on 127.0.0.1 (default: a free one)
  --out DIR            where to write (default ./memtrace-bench-<stamp>/)

Seed 003's clean runs (models): each model in turn on a server memtrace
manages, smallest first unless --order given; after each, keep_alive 0 and
a wait until /api/ps is empty, the runner gone and memory back, recording the
unload time and what was not given back. A failed load restarts the server
for one more try, then the model is skipped with the reason. --prompts FILE
takes one prompt per line (default: the email-validation prompt).

compare prints two results side by side (before and after an upgrade, say):
a difference beyond the run-to-run spread is put down to a changed setting or
host, or a busy host, where the result lines say so, and marked otherwise;
speeds of steps with one request each are not judged, and a step that failed
in one run is counted.

num-parallel ends with a recommendation: the largest NUM_PARALLEL that stayed
flat, beside the most slots memtrace plan says fit.`

/** Whether a command can be run: a path that is an executable file, or a name found on PATH. */
function onPath(cmd: string): boolean {
  const runnable = (p: string) => {
    try {
      accessSync(p, constants.X_OK)
      return statSync(p).isFile()
    } catch {
      return false
    }
  }
  if (cmd.includes('/')) return runnable(cmd)
  return (process.env.PATH ?? '').split(delimiter).some(dir => dir !== '' && runnable(join(dir, cmd)))
}

export async function runBench(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  try {
    return await bench(argv, out, err)
  } finally {
    // Ended on its own (or by an error, after its servers and daemon were stopped): the guardian has nothing to do.
    released()
  }
}

async function bench(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [experiment, ...rest] = argv
  if (experiment === undefined || experiment === '--help' || experiment === '-h') {
    out.write(`${BENCH_HELP}\n`)
    return experiment === undefined ? 1 : 0
  }
  if (experiment === 'compare') {
    const files = rest.filter(x => !x.startsWith('-'))
    if (files.length !== 2 || files.length !== rest.length) throw new UsageError('bench compare wants two results.jsonl files: A B')
    const { compare, readResults } = await import('./compare.js')
    out.write(compare(readResults(files[0] as string), readResults(files[1] as string), [files[0] as string, files[1] as string]))
    return 0
  }
  if (experiment !== 'num-parallel' && experiment !== 'num-ctx' && experiment !== 'parallel' && experiment !== 'models') throw new UsageError(`bench ${experiment}: no such experiment; see memtrace bench --help`)
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: experiment === 'models',
    options: {
      prompts: { type: 'string' },
      order: { type: 'string' },
      settle: { type: 'string' },
      model: { type: 'string' },
      'num-ctx': { type: 'string' },
      'min-np': { type: 'string' },
      'min-ctx': { type: 'string' },
      'max-ctx': { type: 'string' },
      'max-np': { type: 'string' },
      'max-parallel': { type: 'string' },
      'num-parallel': { type: 'string' },
      requests: { type: 'string' },
      warmup: { type: 'string' },
      cooldown: { type: 'string' },
      prompt: { type: 'string' },
      seed: { type: 'string' },
      temperature: { type: 'string' },
      'num-predict': { type: 'string' },
      'load-timeout': { type: 'string' },
      'serve-cmd': { type: 'string' },
      port: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    out.write(`${BENCH_HELP}\n`)
    return 0
  }
  // An option that does not apply to the experiment is a mistake to say, not to drop.
  const own: Record<string, string[]> = { 'num-parallel': ['min-np', 'max-np', 'model'], 'num-ctx': ['min-ctx', 'max-ctx', 'model'], parallel: ['max-parallel', 'num-parallel', 'model'], models: ['prompts', 'order', 'settle'] }
  const mine = new Set([...(own[experiment] ?? []), 'num-ctx', 'requests', 'warmup', 'cooldown', 'prompt', 'seed', 'temperature', 'num-predict', 'load-timeout', 'serve-cmd', 'port', 'out', 'help'])
  const foreign = Object.keys(values).filter(k => !mine.has(k))
  if (foreign.length) throw new UsageError(`bench ${experiment} does not take ${foreign.map(k => `--${k}`).join(', ')}`)
  if (experiment === 'parallel' && values['serve-cmd'] !== undefined && values['num-parallel'] === undefined) throw new UsageError('bench parallel runs --serve-cmd only with --num-parallel (else it measures the running server)')
  if (experiment === 'parallel' && values.port !== undefined && values['num-parallel'] === undefined) throw new UsageError('bench parallel takes --port only with --num-parallel (the port of the server memtrace starts; the running one is OLLAMA_HOST)')
  if (experiment === 'models' ? positionals.length === 0 : !values.model) throw new UsageError(experiment === 'models' ? 'bench models wants one model name or more' : `bench ${experiment} wants --model`)
  const temperature = Number(values.temperature ?? 0)
  if (!Number.isFinite(temperature) || temperature < 0) throw new UsageError(`--temperature wants a number from 0, not "${values.temperature}"`)
  const a = {
    model: values.model ?? positionals.join(', '),
    numCtx: whole('num-ctx', values['num-ctx'], 4096),
    minNp: whole('min-np', values['min-np'], 1),
    maxNp: whole('max-np', values['max-np'], 15),
    requests: whole('requests', values.requests, 5),
    warmup: whole('warmup', values.warmup, 1, 0),
    cooldownMs: duration('cooldown', values.cooldown, 3000),
    prompt: values.prompt ?? EMAIL_PROMPT,
    seed: whole('seed', values.seed, 42, 0),
    temperature,
    ...(values['num-predict'] !== undefined ? { numPredict: whole('num-predict', values['num-predict'], 0) } : {}),
    loadTimeoutMs: duration('load-timeout', values['load-timeout'], 300_000),
    serveCmd: (values['serve-cmd'] ?? 'ollama serve').split(/\s+/).filter(Boolean),
    ...(values.port !== undefined ? { port: whole('port', values.port, 0, 1) } : {}),
    userUrl: ollamaUrlFromEnv(process.env),
    out: values.out ?? `memtrace-bench-${localStamp(Date.now())}`,
  }
  if (a.minNp > a.maxNp) throw new UsageError('--min-np is above --max-np')
  const minCtx = whole('min-ctx', values['min-ctx'], 2048)
  const maxCtx = whole('max-ctx', values['max-ctx'], 32768)
  if (minCtx > maxCtx) throw new UsageError('--min-ctx is above --max-ctx')
  if (a.port !== undefined && a.port > 65535) throw new UsageError(`--port wants a port from 1 to 65535, not "${values.port}"`)
  const order = values.order ?? 'size'
  if (order !== 'size' && order !== 'given') throw new UsageError(`--order is size or given, not "${order}"`)
  const settleMs = duration('settle', values.settle, 30_000)
  let prompts = [a.prompt]
  if (values.prompts !== undefined) {
    try {
      prompts = readFileSync(values.prompts, 'utf8').split('\n').map(l => l.trim()).filter(Boolean)
    } catch (e) {
      throw new InputError(`cannot read --prompts ${values.prompts}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    if (prompts.length === 0) throw new InputError(`--prompts ${values.prompts} holds no prompt`)
  }
  if (existsSync(a.out)) {
    if (!statSync(a.out).isDirectory()) throw new UsageError(`--out ${a.out} is a file, not a directory`)
    if (readdirSync(a.out).length > 0) throw new UsageError(`${a.out} is not empty: give --out a new directory`)
  }
  const managed = experiment !== 'parallel' || values['num-parallel'] !== undefined
  if (managed && !onPath(a.serveCmd[0] as string)) throw new InputError(`${a.serveCmd.join(' ')}: command not found (install Ollama, or give --serve-cmd)`)
  mkdirSync(a.out, { recursive: true, mode: 0o700 })
  const say = (line: string) => err.write(`${line}\n`)
  const settings = { model: a.model, numCtx: a.numCtx, requests: a.requests, warmup: a.warmup, cooldownMs: a.cooldownMs, seed: a.seed, temperature: a.temperature }
  let md: string
  let steps: BenchStep[]
  const numParallel = values['num-parallel'] !== undefined ? whole('num-parallel', values['num-parallel'], 1) : undefined
  // Ctrl-C or SIGTERM: the steps that finished are in results.jsonl; their table and chart are written beside them, and the interruption said.
  onInterrupt(signal => {
    const done = finishedSteps(join(a.out, 'results.jsonl'))
    const note = { signal, steps: done.length }
    const text = experiment === 'models' ? markdownModels(done, { ...settings, order }, note) : experiment === 'parallel' ? markdownParallel(done, { ...settings, ...(numParallel !== undefined ? { numParallel } : {}) }, undefined, undefined, note) : markdown(done, settings, {}, note, experiment)
    writeFileSync(join(a.out, 'results.md'), text)
    if (done.length) writeFileSync(join(a.out, 'results.svg'), chart(done, settings, experiment))
    say(`interrupted (${signal}) after ${done.length} finished step${done.length === 1 ? '' : 's'}: they are in ${join(a.out, 'results.jsonl')} and results.md; the trace is in ${join(a.out, 'trace')} (memtrace render --dir ${join(a.out, 'trace')})`)
  })
  if (experiment === 'models') {
    steps = await runModels({ ...a, models: positionals, order, prompts, settleMs }, say)
    md = markdownModels(steps, { ...settings, order })
  } else if (experiment === 'parallel') {
    const run = await runParallel({ ...a, maxParallel: whole('max-parallel', values['max-parallel'], 4), ...(numParallel !== undefined ? { numParallel } : {}) }, say)
    steps = run.steps
    // With a server of its own, the slots are known: the whole runner is set against the plan.
    const runner = numParallel !== undefined ? await runnerPlan(a.model, a.numCtx, numParallel, steps[0], say) : undefined
    // The fourth and fifth figures, from the server's log the daemon kept beside the trace.
    if (runner) Object.assign(runner, await fromServerLog(join(a.out, 'trace'), a.model))
    md = markdownParallel(steps, { ...settings, ...(numParallel !== undefined ? { numParallel } : {}) }, runner, run.verdict)
  } else {
    const ctx = experiment === 'num-ctx'
    steps = ctx ? await runNumParallel(a, say, ctxPoints(minCtx, maxCtx), 'num-ctx') : await runNumParallel(a, say)
    // The rise of idle RSS per slot (num-parallel) or per token of context (num-ctx), against plan's KV cache for the same.
    const perSlot: PerSlot = {}
    const measured = slope(steps.filter(s => s.rssIdleBytes !== undefined).map(s => [s.step, s.rssIdleBytes as number]))
    if (measured !== undefined) perSlot.measuredBytes = measured
    const facts = await modelFacts(a.model, say)
    const predicted = !facts ? undefined : ctx ? slope(steps.map(s => [s.step, kvBytesPerSlot(facts.facts, capContext(facts.facts, s.step), 'f16')])) : kvBytesPerSlot(facts.facts, capContext(facts.facts, a.numCtx), 'f16')
    if (predicted !== undefined) perSlot.predictedBytes = predicted
    const why = busyText(steps, ctx ? 'num_ctx' : 'NP') ? 'the host was busy, so the rules named no phase (see Phases above)' : ''
    md = `${markdown(steps, settings, perSlot, undefined, experiment)}${recommendation(steps, facts ? await plannedMax(a.model, a.numCtx, facts, steps) : undefined, why, experiment)}\n`
  }
  onInterrupt(undefined)
  // Each step was written as it ended; the whole file now replaces those lines at once, with what needed every step.
  writeFileSync(join(a.out, 'results.jsonl.tmp'), steps.map(s => `${jsonLine(s)}\n`).join(''))
  renameSync(join(a.out, 'results.jsonl.tmp'), join(a.out, 'results.jsonl'))
  writeFileSync(join(a.out, 'results.md'), md)
  writeFileSync(join(a.out, 'results.svg'), chart(steps, settings, experiment))
  // Only the processes of the servers memtrace ran, not every Ollama process on the host.
  const ownPids = managedPids()
  const render = spawnSync(process.execPath, [new URL('../bin/memtrace.js', import.meta.url).pathname, 'render', '--dir', join(a.out, 'trace'), '-o', join(a.out, 'memory.svg'), '--quiet', ...(ownPids.length ? ['--pid', ownPids.join(',')] : [])], { encoding: 'utf8' })
  if (render.status !== 0) say(`memory.svg: ${render.stderr.trim()}`)
  out.write(`${md}\nWritten to ${a.out}/: results.jsonl, results.md, results.svg, memory.svg, trace/\n`)
  return 0
}

/** The steps a sweep wrote as each ended: every line that is a bench-step (a line cut short by a kill is left out). */
function finishedSteps(path: string): BenchStep[] {
  let text = ''
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return []
  }
  return text.split('\n').flatMap(l => {
    try {
      const r = JSON.parse(l) as BenchStep
      return r.record === 'bench-step' ? [r] : []
    } catch {
      return []
    }
  })
}

/** The model's GGUF facts and weights size, where its manifest is found in the local models folders. */
async function modelFacts(model: string, say: (line: string) => void): Promise<{ facts: ModelFacts; weightsBytes: number } | undefined> {
  let found
  try {
    found = findModel(modelDirs(), model)
  } catch (e) {
    // A manifest refused (a FIFO, a device, too large): no prediction, said, and the measurements stand.
    say(`no plan for ${oneLine(model)}: ${(e as Error).message}`)
    return undefined
  }
  const facts = found ? await readFacts(found.blob) : undefined
  if (typeof facts === 'string') say(`no plan for ${oneLine(model)}: ${facts}`)
  return found && facts && typeof facts !== 'string' ? { facts, weightsBytes: found.sizeBytes } : undefined
}

/** Ollama's prediction and the allocation for the first runner of `model` in the trace, where its server log has them. */
async function fromServerLog(dir: string, model: string): Promise<{ ollamaBytes?: number; allocatedBytes?: number }> {
  try {
    const r = (await runnerMemoryIn(dir)).find(x => x.model === model && (x.predictedBytes !== undefined || x.allocatedBytes !== undefined))
    return { ...(r?.predictedBytes !== undefined ? { ollamaBytes: r.predictedBytes } : {}), ...(r?.allocatedBytes !== undefined ? { allocatedBytes: r.allocatedBytes } : {}) }
  } catch {
    return {}
  }
}

async function runnerPlan(model: string, numCtx: number, numParallel: number, first: BenchStep | undefined, say: (line: string) => void): Promise<RunnerPlan> {
  const out: RunnerPlan = { numParallel }
  const measured = first?.rssIdleBytes ?? first?.rssPeakBytes
  if (measured !== undefined) out.measuredBytes = measured
  const m = await modelFacts(model, say)
  if (m) {
    const ctx = capContext(m.facts, numCtx)
    out.predictedBytes = runnerBytes(m.facts, m.weightsBytes, { numCtx: ctx, numParallel, kvType: 'f16', flashAttention: true })
    out.perSlotBytes = kvBytesPerSlot(m.facts, ctx, 'f16')
  }
  return out
}

/** What `plan` says for the sweep's model and context on this machine now (its server stopped), with the KV cache and flash attention the server said it ran with. */
async function plannedMax(model: string, numCtx: number, m: { facts: ModelFacts; weightsBytes: number }, steps: BenchStep[]): Promise<PlannedMax | undefined> {
  let host
  try {
    host = await memoryNow()
  } catch {
    return undefined
  }
  const said = steps.find(s => s.settings)?.settings
  const kvType: KvType = said?.kvCacheType === 'q8_0' || said?.kvCacheType === 'q4_0' ? said.kvCacheType : 'f16'
  const flashAttention = said?.flashAttention ?? true
  const p = plan(model, m.facts, m.weightsBytes, host, { numCtx, numParallel: 1, kvType, flashAttention })
  return { maxParallel: p.maxParallel, maxContext: p.maxContext, numCtx: p.contextLength, kvType, flashAttention, memTotalBytes: host.memTotalBytes, inUseBytes: host.osReserveBytes }
}
