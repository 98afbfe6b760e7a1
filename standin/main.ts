/**
 * The Ollama stand-in: a small program that behaves, at the boundaries memtrace
 * touches, like Ollama (see the Ollama notes): `ollama serve` answers
 * /api/ps, /api/tags, /api/generate and /api/chat and starts runner processes
 * with a real Ollama version's command line that really hold memory; `ollama
 * ps` prints the table; `ollama pull` lays out manifests and blobs. It is not
 * Ollama and runs no model.
 */
import { basename, dirname, join } from 'node:path'
import { ollamaPs, type Loaded } from './table.js'
import { CATALOGUE, findModel } from './catalogue.js'
import { runDiscovery, runRunner } from './runner.js'
import { parseKeepAlive } from './go-format.js'
import { StandInServer } from './server.js'
import { modelsDir, pull } from './store.js'
import { nvidiaSmi, registerServer } from './gpu.js'

function hostPort(env: NodeJS.ProcessEnv): { host: string; port: number; url: string } {
  const raw = env.OLLAMA_HOST?.trim() || '127.0.0.1:11434'
  const u = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`)
  const port = Number(u.port || 11434)
  return { host: u.hostname, port, url: `http://${u.hostname}:${port}` }
}

/** Ollama's UNTIL column (format/time.go HumanTime). */
export function untilText(expiresAt: string, now = Date.now()): string {
  const t = Date.parse(expiresAt)
  const d = t - now
  if (d < 0) return 'Stopping...'
  if (new Date(t).getUTCFullYear() - new Date(now).getUTCFullYear() > 20) return 'Forever'
  const s = Math.floor(d / 1000)
  const phrase = s < 1 ? 'Less than a second' : s === 1 ? '1 second' : s < 60 ? `${s} seconds` : s < 120 ? 'About a minute' : s < 3600 ? `${Math.floor(s / 60)} minutes` : s < 7200 ? 'About an hour' : `${Math.round(s / 3600)} hours`
  return `${phrase} from now`
}

async function ps(url: string): Promise<number> {
  let body: { models: { name: string; digest: string; size: number; size_vram: number; context_length: number; expires_at: string; details: { family: string; parameter_size: string; quantization_level: string } }[] }
  try {
    body = (await (await fetch(`${url}/api/ps`)).json()) as typeof body
  } catch {
    process.stderr.write("Error: could not connect to ollama server, run 'ollama serve' to start it\n")
    return 1
  }
  const rows: Loaded[] = body.models.map(m => ({
    name: m.name,
    digest: m.digest,
    size: m.size,
    sizeVram: m.size_vram,
    context: m.context_length,
    family: m.details.family,
    parameterSize: m.details.parameter_size,
    quant: m.details.quantization_level,
    expiresAt: m.expires_at,
    until: untilText(m.expires_at),
  }))
  process.stdout.write(ollamaPs(rows))
  return 0
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
}

/**
 * OLLAMA_STANDIN_RUNNER: `llama.cpp` (the default where node-llama-cpp is
 * installed, as it is with memtrace's development dependencies) or `simulated`.
 */
function runnerKind(env: NodeJS.ProcessEnv): 'llama.cpp' | 'simulated' {
  const asked = env.OLLAMA_STANDIN_RUNNER?.trim()
  if (asked === 'simulated') return 'simulated'
  try {
    import.meta.resolve('node-llama-cpp')
    return 'llama.cpp'
  } catch {
    if (asked === 'llama.cpp') process.stderr.write('stand-in: node-llama-cpp is not installed, so its runners are simulated\n')
    return 'simulated'
  }
}

async function main(argv: string[]): Promise<number> {
  const self = process.argv[1] as string
  if (basename(self) === 'llama-server' || argv[0] === 'runner') {
    if (process.env.OLLAMA_STANDIN_DISCOVERY || !argv.includes('--model')) await runDiscovery()
    else await runRunner(argv, basename(self) === 'llama-server')
    return 0
  }
  const { host, port, url } = hostPort(process.env)
  if (basename(self) === 'nvidia-smi') return nvidiaSmi(join(dirname(self), '..', 'run'), argv)
  const env = process.env
  switch (argv[0]) {
    case 'serve': {
      const binDir = dirname(self)
      await new StandInServer({
        host,
        port,
        modelsDir: modelsDir(),
        parallel: Math.max(1, Number(env.OLLAMA_NUM_PARALLEL || 1)),
        maxLoaded: Number(env.OLLAMA_MAX_LOADED_MODELS || 0),
        keepAliveMs: parseKeepAlive(env.OLLAMA_KEEP_ALIVE, 5 * 60_000),
        contextLength: Number(env.OLLAMA_CONTEXT_LENGTH || 4096),
        version: env.OLLAMA_STANDIN_VERSION || '0.30',
        scale: Number(env.OLLAMA_STANDIN_SCALE || 0.01),
        ollamaBin: self,
        llamaServerBin: join(binDir, '..', 'lib', 'ollama', 'llama-server'),
        failLoads: (env.OLLAMA_STANDIN_FAIL_LOADS ?? '').split(',').map(x => x.trim()).filter(Boolean),
        unloadMs: Number(env.OLLAMA_STANDIN_UNLOAD_MS || 0),
        runner: runnerKind(env),
        ...(Number(env.OLLAMA_STANDIN_MEMORY_BUDGET) > 0 ? { memoryBudgetBytes: Number(env.OLLAMA_STANDIN_MEMORY_BUDGET) } : {}),
      }).listen()
      registerServer(join(binDir, '..', 'run'), url)
      return new Promise<number>(() => undefined)
    }
    case 'ps':
      return ps(url)
    case 'pull':
    case 'list':
      if (argv[0] === 'list') {
        for (const m of CATALOGUE) process.stdout.write(`${m.name}\n`)
        return 0
      }
      for (const name of argv.slice(1)) {
        const m = findModel(name)
        if (!m) {
          process.stderr.write(`Error: pull model manifest: file does not exist (the stand-in knows: ${CATALOGUE.map(c => c.name).join(', ')})\n`)
          return 1
        }
        pull(modelsDir(), m)
        process.stdout.write(`pulled ${m.name}\n`)
      }
      return 0
    case 'stop': {
      const r = await post(url, '/api/generate', { model: argv[1], keep_alive: 0 })
      return r.ok ? 0 : 1
    }
    case 'run': {
      const [, model, ...words] = argv
      const r = await post(url, '/api/generate', { model, prompt: words.join(' ') || 'hello', stream: false })
      const b = (await r.json()) as { response?: string; error?: string }
      if (!r.ok) {
        process.stderr.write(`Error: ${b.error}\n`)
        return 1
      }
      process.stdout.write(`${b.response}\n`)
      return 0
    }
    default:
      process.stderr.write('Usage: ollama serve | ps | pull MODEL | run MODEL [PROMPT] | stop MODEL | list  (memtrace stand-in)\n')
      return 1
  }
}

main(process.argv.slice(2)).then(c => (process.exitCode = c))
