/**
 * The stand-in's runner on llama.cpp (through node-llama-cpp's prebuilt CPU
 * binary; never built or downloaded at run time). It loads the small model
 * the stand-in's `pull` writes, with a context of ctx × NP cells and NP
 * sequences, as Ollama's runner does, so the KV cache and compute buffers are
 * llama.cpp's own. It answers one endpoint on its port:
 *
 *   POST /completion {prompt, n_predict, seed, temperature}
 *   → NDJSON: {"content": "…"} per token, then
 *     {"stop": true, "timings": {prompt_n, prompt_ms, predicted_n, predicted_ms}}
 *
 * Requests beyond NP wait for a sequence, as they queue in a real runner.
 * Settings come from the environment (the server sets them): the model file
 * (OLLAMA_STANDIN_RUNNABLE), OLLAMA_STANDIN_CTX, OLLAMA_STANDIN_NP,
 * OLLAMA_STANDIN_THREADS (2), OLLAMA_STANDIN_BATCH (64) and
 * OLLAMA_STANDIN_FLASH_ATTENTION (`on`, else off). With llama.cpp's defaults,
 * 64 tokens took a minute on 2 cores; with these, about a second.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { RunnerLog } from './llama-log.js'

/** What the runner needs of node-llama-cpp: a loaded model, a context and its sequences. */
interface Sequence {
  evaluate(tokens: unknown[], o: { temperature?: number; seed?: number }): AsyncIterable<unknown>
  clearHistory(): Promise<void>
}

export interface LlamaRunnerSettings {
  modelPath: string
  ctx: number
  np: number
  threads: number
  batch: number
  flashAttention: boolean
  port: number
}

export function llamaRunnerSettings(argv: string[], env: NodeJS.ProcessEnv): LlamaRunnerSettings {
  const at = argv.indexOf('--port')
  const num = (v: string | undefined, d: number) => (v !== undefined && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : d)
  return {
    modelPath: env.OLLAMA_STANDIN_RUNNABLE ?? '',
    ctx: num(env.OLLAMA_STANDIN_CTX, 2048),
    np: num(env.OLLAMA_STANDIN_NP, 1),
    threads: num(env.OLLAMA_STANDIN_THREADS, 2),
    batch: num(env.OLLAMA_STANDIN_BATCH, 64),
    flashAttention: env.OLLAMA_STANDIN_FLASH_ATTENTION === 'on',
    port: at >= 0 ? Number(argv[at + 1]) : 0,
  }
}

/** node-llama-cpp, or undefined when it is not installed (it is a development dependency). */
export async function nodeLlamaCpp(): Promise<typeof import('node-llama-cpp') | undefined> {
  try {
    return await import('node-llama-cpp')
  } catch {
    return undefined
  }
}

/** llama.cpp through node-llama-cpp's prebuilt CPU binary (never built or downloaded here); with `log`, its lines at info level go to it. */
export function runnerLlama(llamaCpp: typeof import('node-llama-cpp'), log?: { message(text: string): void }) {
  const { getLlama, LlamaLogLevel } = llamaCpp
  const logging = log ? { logLevel: LlamaLogLevel.info, logger: (_: unknown, message: string) => log.message(message) } : { logLevel: LlamaLogLevel.disabled }
  return getLlama({ build: 'never', gpu: false, progressLogs: false, usePrebuiltBinaries: true, ...logging })
}

/**
 * The model loaded on the CPU, and how the runner makes its context: ctx
 * cells for each of NP sequences (node-llama-cpp asks llama.cpp for ctx ×
 * NP, one stream a sequence, as Ollama's runner does).
 */
export async function loadRunnerModel(llama: Awaited<ReturnType<typeof runnerLlama>>, modelPath: string) {
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 })
  const createContext = (s: Pick<LlamaRunnerSettings, 'ctx' | 'np' | 'threads' | 'batch' | 'flashAttention'>) =>
    model.createContext({ contextSize: s.ctx, sequences: s.np, threads: s.threads, batchSize: s.batch, flashAttention: s.flashAttention })
  return { model, createContext }
}

/**
 * Runs the runner. With `log` (standing in for llama-server), llama.cpp's own
 * log at info level goes to stderr through node-llama-cpp's logger, as
 * llama-server prints it: the model's metadata, its buffers (model, KV cache,
 * output, compute), the context's settings, a few hundred lines a load and
 * none a token. Without, nothing is written there.
 */
export async function runLlamaRunner(s: LlamaRunnerSettings, log?: RunnerLog): Promise<void> {
  const llamaCpp = await nodeLlamaCpp()
  if (!llamaCpp) {
    process.stdout.write('error: node-llama-cpp is not installed (it is a development dependency of memtrace)\n')
    process.exit(1)
  }
  let model: Awaited<ReturnType<typeof loadRunnerModel>>['model']
  let context: Awaited<ReturnType<Awaited<ReturnType<typeof loadRunnerModel>>['createContext']>>
  try {
    const loaded = await loadRunnerModel(await runnerLlama(llamaCpp, log), s.modelPath)
    model = loaded.model
    context = await loaded.createContext(s)
  } catch (e) {
    await logged(log)
    // The server reads this line and answers the request with it, as Ollama answers a failed load.
    process.stdout.write(`error: ${(e as Error).message.split('\n')[0]}\n`)
    process.exit(1)
  }
  const free: Sequence[] = Array.from({ length: s.np }, () => context.getSequence() as unknown as Sequence)
  const waiting: ((q: Sequence) => void)[] = []
  const take = () => new Promise<Sequence>(ok => (free.length > 0 ? ok(free.pop() as Sequence) : waiting.push(ok)))
  const give = (q: Sequence) => {
    const next = waiting.shift()
    if (next) next(q)
    else free.push(q)
  }

  const complete = async (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.parse((await readBody(req)) || '{}') as { prompt?: string; n_predict?: number; seed?: number; temperature?: number }
    const n = Math.max(0, Math.floor(Number(body.n_predict ?? 128)))
    let tokens = model.tokenize(String(body.prompt ?? ''))
    // A prompt longer than the sequence's cells keeps its end, as Ollama truncates.
    const room = Math.max(1, s.ctx - n - 1)
    if (tokens.length > room) tokens = tokens.slice(tokens.length - room)
    const q = await take()
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    const start = performance.now()
    let first: number | undefined
    let produced = 0
    // A client that went away frees its sequence: nobody reads the rest.
    let gone = false
    res.once('close', () => (gone = !res.writableFinished))
    try {
      if (n > 0) {
        for await (const token of q.evaluate(tokens, { temperature: Number(body.temperature ?? 0), ...(body.seed !== undefined ? { seed: Number(body.seed) } : {}) })) {
          first ??= performance.now()
          produced++
          res.write(`${JSON.stringify({ content: model.detokenize([token as never]) })}\n`)
          if (produced >= n || gone) break
        }
      }
    } finally {
      try {
        await q.clearHistory()
      } finally {
        give(q)
      }
    }
    const end = performance.now()
    // The prompt's time runs to the first token, which its last step produced; generation is the rest.
    // With no token asked for, the prompt was not read at all.
    const timings = { prompt_n: n > 0 ? tokens.length : 0, prompt_ms: (first ?? end) - start, predicted_n: produced, predicted_ms: first !== undefined ? end - first : 0 }
    res.end(`${JSON.stringify({ stop: true, timings })}\n`)
  }

  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/completion') {
      complete(req, res).catch(e => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(`${JSON.stringify({ error: (e as Error).message })}\n`)
      })
    } else if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: 'ok', n_ctx: context.contextSize * s.np, n_parallel: s.np }))
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(s.port, '127.0.0.1', ok)
  })
  await logged(log)
  process.stdout.write(`ready ${log?.count ?? 0}\n`)
}

/**
 * llama.cpp's lines reach the logger through the event loop (node-llama-cpp
 * queues them from llama.cpp's threads): let those queued during the load
 * arrive, then write the progress dots still held.
 */
async function logged(log: RunnerLog | undefined): Promise<void> {
  if (!log) return
  for (let i = 0; i < 3; i++) await new Promise(ok => setImmediate(ok))
  log.flush()
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    let t = ''
    req.setEncoding('utf8')
    req.on('data', c => (t += c))
    req.on('end', () => ok(t))
    req.on('error', fail)
  })
}
