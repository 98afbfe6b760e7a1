import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { CATALOGUE, findModel } from './catalogue.js'
import { readBody } from './llama-runner.js'
import { chunk, done, generateOn, type Generated, simulate } from './generate.js'
import { goTime, parseKeepAlive } from './go-format.js'
import { copyLines, ServerLog, systemMemory } from './server-log.js'
import { simulatedLoad } from './llama-log.js'
import { list, load, type StoredModel } from './store.js'

/** Settings read from the environment, as Ollama reads them. */
export interface ServeConfig {
  host: string
  port: number
  modelsDir: string
  /** OLLAMA_NUM_PARALLEL (default 1 since 0.10). */
  parallel: number
  /** OLLAMA_MAX_LOADED_MODELS (0 = auto = 3 for one GPU). */
  maxLoaded: number
  /** OLLAMA_KEEP_ALIVE in ms (default 5 min); negative = forever. */
  keepAliveMs: number
  /** OLLAMA_CONTEXT_LENGTH (default 4096). */
  contextLength: number
  /** Which Ollama's runner argv to imitate: 0.30 (llama-server), 0.12, 0.7, mlx. */
  version: string
  /** Fraction of the real size a runner allocates (OLLAMA_STANDIN_SCALE). */
  scale: number
  /** The stand-in's own executables. */
  ollamaBin: string
  llamaServerBin: string
  /** Models whose load fails once this server has loaded another (OLLAMA_STANDIN_FAIL_LOADS): seed 003's EOF. */
  failLoads?: string[]
  /** How long an unload takes (OLLAMA_STANDIN_UNLOAD_MS); the model is listed as stopping meanwhile. */
  unloadMs?: number
  /**
   * What the runners are (OLLAMA_STANDIN_RUNNER): `llama.cpp` runs the small
   * model on llama.cpp and generates for real; `simulated` holds scale × the
   * model's size and generates at a fixed pace.
   */
  runner: 'llama.cpp' | 'simulated'
  /**
   * The memory the scheduler sees as free before any runner (OLLAMA_STANDIN_MEMORY_BUDGET, bytes), less what
   * the loaded runners are predicted to hold: with it, 0.30's rule evicts and says so. Unset, memory decides nothing.
   */
  memoryBudgetBytes?: number
}

interface Runner {
  model: StoredModel
  child: ChildProcess
  port: number
  ctx: number
  parallel: number
  sizeBytes: number
  refs: number
  /** ms since epoch; null while the first request runs; Infinity = forever. */
  expiresAt: number | null
  keepAliveMs: number
  ready: Promise<void>
  exited: Promise<void>
  /** Runs the small model on llama.cpp (else simulated). */
  real: boolean
  /** Why the runner died while loading, as it said. */
  failure?: string
  /** Set when the server stops it: an exit then is no crash. */
  stopping?: boolean
}

const FOREVER_MS = Date.UTC(2318, 11, 1)

/** The small model the llama.cpp runner runs, whatever the name asked for. */
const TINY = CATALOGUE.find(m => m.runnable) as (typeof CATALOGUE)[number]

/** A load that failed as Ollama's do: the request gets HTTP 500 with this message. */
class LoadError extends Error {}

export class StandInServer {
  readonly #cfg: ServeConfig
  readonly #runners = new Map<string, Runner>()
  #loads = 0
  #nextPort = 40000 + Math.floor(Math.random() * 10000)
  #queue: Promise<unknown> = Promise.resolve()
  readonly #log = new ServerLog(process.stderr, goTime)

  constructor(cfg: ServeConfig) {
    this.#cfg = cfg
  }

  async listen(): Promise<void> {
    this.#discover()
    const server = createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((ok, fail) => {
      server.once('error', fail)
      server.listen(this.#cfg.port, this.#cfg.host, ok)
    })
    setInterval(() => this.#expire(), 100).unref()
    this.#logStart()
    const stop = () => {
      for (const r of this.#runners.values()) {
        r.stopping = true
        r.child.kill('SIGKILL')
      }
      process.exit(0)
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  }

  /** GPU discovery at start-up: a runner-like child without --model. */
  #discover(): void {
    const port = this.#port()
    const args = this.#cfg.version === '0.30' ? [this.#cfg.llamaServerBin, '--port', String(port), '--host', '127.0.0.1', '--no-webui', '--offline', '--verbose'] : [this.#cfg.ollamaBin, 'runner', '--ollama-engine', '--port', String(port)]
    spawn(args[0] as string, args.slice(1), { stdio: 'ignore', env: { ...process.env, OLLAMA_STANDIN_DISCOVERY: '1' } })
  }

  #port(): number {
    return this.#nextPort++
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://x')
      if (req.method === 'GET' && url.pathname === '/api/ps') return json(res, 200, this.#ps())
      // Not Ollama's: what the stand-in's nvidia-smi shows each runner holding on the GPU.
      if (req.method === 'GET' && url.pathname === '/standin/gpu') return json(res, 200, this.#gpu())
      if (req.method === 'GET' && url.pathname === '/api/tags') return json(res, 200, this.#tags())
      if (req.method === 'GET' && url.pathname === '/api/version') return json(res, 200, { version: `${this.#cfg.version}.0-standin` })
      if (req.method === 'GET' && url.pathname === '/') return text(res, 200, 'Ollama is running')
      if (req.method === 'POST' && (url.pathname === '/api/generate' || url.pathname === '/api/chat')) {
        const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>
        return await this.#generate(url.pathname === '/api/chat', body, res)
      }
      json(res, 404, { error: 'not found' })
    } catch (e) {
      json(res, 500, { error: (e as Error).message })
    }
  }

  #gpu() {
    return [...this.#runners.values()].filter(r => r.child.pid !== undefined && !r.real).map(r => ({ pid: r.child.pid, bytes: r.sizeBytes, exe: this.#cfg.version === '0.30' ? this.#cfg.llamaServerBin : this.#cfg.ollamaBin }))
  }

  #ps() {
    const models = [...this.#runners.values()]
      .map(r => {
        const exp = r.expiresAt === null ? Date.now() + Math.max(0, r.keepAliveMs) : r.expiresAt === Infinity ? FOREVER_MS : r.expiresAt
        return {
          name: r.model.name,
          model: r.model.name,
          size: r.sizeBytes,
          digest: r.model.manifestDigest,
          details: { parent_model: '', ...r.model.details },
          expires_at: goTime(exp),
          // The llama.cpp runner runs on the CPU: `ollama ps` shows 100% CPU.
          size_vram: r.real ? 0 : r.sizeBytes,
          context_length: r.ctx,
          _exp: exp,
        }
      })
      .sort((a, b) => b._exp - a._exp)
      .map(({ _exp, ...m }) => m)
    return { models }
  }

  #tags() {
    return {
      models: list(this.#cfg.modelsDir).map(m => ({ name: m.name, model: m.name, modified_at: goTime(Date.now()), size: m.sizeBytes, digest: m.manifestDigest, details: { parent_model: '', ...m.details } })),
    }
  }

  async #generate(chat: boolean, body: Record<string, unknown>, res: ServerResponse): Promise<void> {
    const name = String(body.model ?? '')
    const stored = load(this.#cfg.modelsDir, name.includes(':') ? name : `${name}:latest`)
    if (!stored) return json(res, 404, { error: `model '${name}' not found${findModel(name) ? ', try pulling it first' : ''}` })
    const keepAliveMs = parseKeepAlive(body.keep_alive, this.#cfg.keepAliveMs)
    const empty = chat ? !Array.isArray(body.messages) || body.messages.length === 0 : !body.prompt
    const existing = this.#runners.get(stored.name)
    if (empty && keepAliveMs === 0) {
      if (existing && this.#cfg.unloadMs) {
        // Ollama answers at once and unloads in the background; the model shows as stopping until then.
        existing.expiresAt = Date.now()
        void this.#unload(existing)
      } else if (existing) await this.#unload(existing)
      return json(res, 200, done(chat, stored.name, '', 'unload'))
    }
    const started = Date.now()
    const r = existing ?? (await this.#serialised(() => this.#load(stored, body, keepAliveMs)))
    r.refs++
    r.keepAliveMs = keepAliveMs
    await r.ready
    if (r.failure !== undefined) {
      r.refs--
      r.child.kill('SIGKILL')
      this.#runners.delete(stored.name)
      throw new LoadError(`llama runner process has terminated: ${r.failure}`)
    }
    const loaded = Date.now()
    const opts = (body.options ?? {}) as Record<string, unknown>
    const prompt = chat ? JSON.stringify(body.messages ?? '') : String(body.prompt ?? '')
    const stream = body.stream !== false
    if (stream) res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    const say = (w: string) => stream && res.write(`${JSON.stringify(chunk(chat, stored.name, w))}\n`)
    let out: Generated
    try {
      out = empty ? { promptTokens: 0, promptMs: 0, words: [], evalMs: 0 } : r.real ? await generateOn(r.port, prompt, opts, r.ctx, say) : await simulate(prompt, opts, say)
    } catch (e) {
      // The runner died under the request: Ollama ends the stream with an error object.
      if (!stream) throw e
      res.end(`${JSON.stringify({ error: (e as Error).message })}\n`)
      return
    } finally {
      r.refs--
      if (r.refs === 0) r.expiresAt = keepAliveMs < 0 ? Infinity : Date.now() + keepAliveMs
    }
    const end = Date.now()
    const ms = 1e6
    const timings = { total_duration: (end - started) * ms, load_duration: (loaded - started) * ms, prompt_eval_count: out.promptTokens, prompt_eval_duration: Math.round(out.promptMs * ms), eval_count: out.words.length, eval_duration: Math.round(out.evalMs * ms) }
    const last = { ...done(chat, stored.name, stream ? '' : out.words.join(''), empty ? 'load' : 'stop'), ...(empty ? {} : timings) }
    if (stream) res.end(`${JSON.stringify(last)}\n`)
    else json(res, 200, last)
  }

  /** One load at a time, as Ollama's scheduler does. */
  #serialised<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn, fn)
    this.#queue = p.catch(() => undefined)
    return p
  }

  /** What Ollama logs as it starts: the settings that shape memory, the host's memory, the address and version. */
  #logStart(): void {
    const c = this.#cfg
    const keep = c.keepAliveMs < 0 ? '-1ns' : `${Math.floor(c.keepAliveMs / 60_000)}m${Math.round((c.keepAliveMs % 60_000) / 1000)}s`
    this.#log.line('INFO', 'routes.go:1332', 'server config', { env: `map[OLLAMA_CONTEXT_LENGTH:${c.contextLength} OLLAMA_FLASH_ATTENTION:false OLLAMA_KEEP_ALIVE:${keep} OLLAMA_KV_CACHE_TYPE: OLLAMA_MAX_LOADED_MODELS:${c.maxLoaded} OLLAMA_NUM_PARALLEL:${c.parallel}]` })
    const mem = systemMemory()
    this.#log.line('INFO', 'types.go:42', 'system memory', { totalBytes: mem.total, freeBytes: mem.free, free_swapBytes: mem.freeSwap })
    this.#log.line('INFO', 'routes.go:1385', `Listening on ${c.host}:${c.port} (version ${c.version}.0-standin)`)
  }

  /** Free memory as the scheduler sees it: the budget less the loaded runners' predictions. */
  #free(budget: number): number {
    let used = 0
    for (const r of this.#runners.values()) used += r.sizeBytes
    return Math.max(0, budget - used)
  }

  /** 0.30's rule: evict (idle runners, oldest expiry first) while the prediction exceeds 80 % of what is free; say each decision. */
  async #makeRoom(predicted: number, ctx: number): Promise<void> {
    // Without a budget the runners hold a share of each model (OLLAMA_STANDIN_SCALE) and memory decides nothing.
    const budget = this.#cfg.memoryBudgetBytes
    if (budget === undefined) return
    const said = (msg: string, free: number) =>
      this.#log.line('INFO', 'sched.go:512', msg, { predictedBytes: predicted, predicted_num_ctx: ctx, num_batch: 512, availableBytes: free, gpu_freeBytes: 0, system_freeBytes: free, system_limited: true })
    // With every other runner gone there is nothing to fit beside.
    while (this.#runners.size > 0) {
      const free = this.#free(budget)
      if (predicted <= 0.8 * free) return said('llama-server model fits alongside existing models', free)
      const idle = [...this.#runners.values()].filter(r => r.refs === 0).sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0))[0]
      if (!idle) return
      said('llama-server model predicted to exceed available memory, evicting', free)
      await this.#unload(idle)
    }
  }

  async #load(stored: StoredModel, body: Record<string, unknown>, keepAliveMs: number): Promise<Runner> {
    const again = this.#runners.get(stored.name)
    if (again) return again
    const max = this.#cfg.maxLoaded > 0 ? this.#cfg.maxLoaded : 3
    while (this.#runners.size >= max) {
      const idle = [...this.#runners.values()].filter(r => r.refs === 0).sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0))[0]
      if (!idle) break
      await this.#unload(idle)
    }
    const opts = (body.options ?? {}) as Record<string, unknown>
    const ctx = Math.min(Number(opts.num_ctx ?? this.#cfg.contextLength), stored.trainedContext)
    const parallel = this.#cfg.parallel
    const real = this.#cfg.runner === 'llama.cpp' && stored.runnable !== undefined
    // What Ollama would claim for the model that runs: its weights and an f16 KV cache of ctx × NP.
    const sizeBytes = real ? TINY.sizeBytes + TINY.kvBytesPerToken * ctx * parallel : stored.sizeBytes + stored.kvBytesPerToken * ctx * parallel
    await this.#makeRoom(sizeBytes, ctx)
    const port = this.#port()
    const [cmd, ...args] = this.#argv(stored, port, ctx, parallel)
    const startedAt = Date.now()
    const v = this.#cfg.version
    if (v === 'mlx') this.#log.line('INFO', 'server.go:145', 'starting mlx runner subprocess', { model: stored.name, port })
    else this.#log.line('INFO', 'server.go:431', v === '0.30' ? 'starting llama-server' : 'starting llama server', { cmd: [cmd, ...args].join(' ') })
    const shape = findModel(stored.name)
    const env = real
      ? { ...process.env, OLLAMA_STANDIN_RUNNABLE: stored.runnable, OLLAMA_STANDIN_CTX: String(ctx), OLLAMA_STANDIN_NP: String(parallel) }
      : { ...process.env, OLLAMA_STANDIN_RUNNABLE: '', OLLAMA_STANDIN_ALLOC_BYTES: String(Math.round(sizeBytes * this.#cfg.scale)), OLLAMA_STANDIN_SIMULATED_LOAD: shape ? JSON.stringify(simulatedLoad(shape, ctx, parallel)) : '' }
    const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    // Ollama copies its runner's output into its own log; the stand-in's runners write theirs on stderr.
    const copied = copyLines(child.stderr as NodeJS.ReadableStream, line => process.stderr.write(`${line}\n`))
    let failure = ''
    const ready = new Promise<void>(ok => {
      let said = ''
      child.stdout?.on('data', (d: Buffer) => {
        said += d.toString()
        const error = /^error: (.*)$/m.exec(said)
        // A runner that failed exits; one that is ready says how many lines it wrote first, all copied before "started".
        const up = /^ready(?: (\d+))?$/m.exec(said)
        if (error) failure = error[1] as string
        else if (up) void copied.reached(Number(up[1] ?? 0)).then(ok)
      })
      child.once('close', () => ok())
    })
    const exited = new Promise<void>(ok => child.once('exit', () => ok()))
    const r: Runner = { model: stored, child, port, ctx, parallel, sizeBytes, refs: 0, expiresAt: null, keepAliveMs, ready, exited, real }
    void ready.then(() => {
      if (failure || child.exitCode !== null || child.signalCode !== null) r.failure = failure || 'exit status 1'
      else this.#log.line('INFO', 'server.go:1289', `${v === '0.30' ? 'llama-server' : 'llama runner'} started in ${((Date.now() - startedAt) / 1000).toFixed(2)} seconds`)
    })
    // A runner that dies when the server did not stop it (the OOM killer, a crash) is said, as Ollama says it,
    // after the last lines it wrote.
    child.once('close', () => {
      if (r.stopping) return
      const why = child.signalCode ? `signal: ${child.signalCode === 'SIGKILL' ? 'killed' : child.signalCode.toLowerCase().replace(/^sig/, '')}` : `exit status ${child.exitCode}`
      this.#log.line('ERROR', 'server.go:622', `${v === '0.30' ? 'llama-server' : 'llama runner'} process has terminated`, { error: why })
    })
    // Seed 003: on a server that has loaded models before, some loads die with the runner's connection (EOF).
    if (this.#loads++ > 0 && this.#cfg.failLoads?.includes(stored.name)) {
      await ready
      r.stopping = true
      child.kill('SIGKILL')
      await exited
      throw new LoadError(`do load request: Post "http://127.0.0.1:${port}/load": EOF`)
    }
    this.#runners.set(stored.name, r)
    void exited.then(() => this.#runners.get(stored.name) === r && this.#runners.delete(stored.name))
    return r
  }

  /** The runner's command line in the shape of the imitated Ollama version (notes: runner argv by version). */
  #argv(m: StoredModel, port: number, ctx: number, parallel: number): string[] {
    const { ollamaBin, llamaServerBin, version } = this.#cfg
    if (version === 'mlx') return [ollamaBin, 'runner', '--mlx-engine', '--model', m.name, '--port', String(port)]
    if (version === '0.7') return [ollamaBin, 'runner', '--model', m.modelBlob, '--ctx-size', String(ctx * parallel), '--batch-size', '512', '--parallel', String(parallel), '--port', String(port)]
    if (version === '0.12') return [ollamaBin, 'runner', '--ollama-engine', '--model', m.modelBlob, '--port', String(port)]
    return [llamaServerBin, '--model', m.modelBlob, '--port', String(port), '--host', '127.0.0.1', '--no-webui', '--offline', '-c', String(ctx * parallel), '-np', String(parallel), '--log-verbosity', '4', '--no-log-prefix', '--no-log-timestamps', '--flash-attn', 'auto']
  }

  async #unload(r: Runner): Promise<void> {
    if (this.#cfg.unloadMs) await new Promise(ok => setTimeout(ok, this.#cfg.unloadMs))
    r.stopping = true
    r.child.kill('SIGKILL') // as Ollama does
    await r.exited
    this.#runners.delete(r.model.name)
  }

  #expire(): void {
    const now = Date.now()
    for (const r of this.#runners.values()) {
      if (r.refs === 0 && r.expiresAt !== null && r.expiresAt <= now) void this.#unload(r)
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
  res.end(JSON.stringify(body))
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' })
  res.end(body)
}
