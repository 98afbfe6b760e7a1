import { llamaRunnerSettings, runLlamaRunner } from './llama-runner.js'
import { RunnerLog, type SimulatedLoad, simulatedLoadLines } from './llama-log.js'

/**
 * A stand-in model runner: a real process that really holds memory. With
 * OLLAMA_STANDIN_RUNNABLE (a model file), it runs that model on llama.cpp
 * (llama-runner.ts). Otherwise it is the simulated runner: it allocates
 * OLLAMA_STANDIN_ALLOC_BYTES and writes to every page over about a second
 * (a load). Either says "ready N" on stdout (N: the lines it wrote on stderr
 * first), then stays until it is killed or its server goes away.
 *
 * Standing in for llama-server (Ollama 0.30+), it writes llama.cpp's log on
 * stderr as llama-server does: llama.cpp's own lines on llama.cpp, the memory
 * lines of what it simulates (OLLAMA_STANDIN_SIMULATED_LOAD) otherwise. As
 * an older Ollama's `ollama runner`, it writes nothing there.
 */
export async function runRunner(argv: string[], asLlamaServer: boolean): Promise<void> {
  const parent = process.ppid
  const held: Buffer[] = []
  const log = asLlamaServer ? new RunnerLog() : undefined
  if (process.env.OLLAMA_STANDIN_RUNNABLE) await runLlamaRunner(llamaRunnerSettings(argv, process.env), log)
  else await simulate(Math.max(0, Number(process.env.OLLAMA_STANDIN_ALLOC_BYTES ?? 0)), held, log, simulatedFigures(process.env.OLLAMA_STANDIN_SIMULATED_LOAD))
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0) // the server died: so do its runners
    held.length // keep the memory referenced
  }, 500)
  process.on('SIGTERM', () => process.exit(0))
  process.on('SIGINT', () => process.exit(0))
}

function simulatedFigures(json: string | undefined): SimulatedLoad | undefined {
  try {
    return json ? (JSON.parse(json) as SimulatedLoad) : undefined
  } catch {
    return undefined
  }
}

async function simulate(bytes: number, held: Buffer[], log: RunnerLog | undefined, figures: SimulatedLoad | undefined): Promise<void> {
  const lines = log && figures ? simulatedLoadLines(figures) : { load: [], context: [] }
  for (const l of lines.load) log?.message(l)
  const chunk = 16 * 1024 * 1024
  const steps = Math.max(1, Math.ceil(bytes / chunk))
  const pause = Math.min(50, 1000 / steps)
  for (let done = 0; done < bytes; done += chunk) {
    const b = Buffer.allocUnsafe(Math.min(chunk, bytes - done))
    for (let i = 0; i < b.length; i += 4096) b[i] = 1 // touch every page: resident, not just reserved
    held.push(b)
    await new Promise(r => setTimeout(r, pause))
  }
  for (const l of lines.context) log?.message(l)
  process.stdout.write(`ready ${log?.count ?? 0}\n`)
}

/** GPU discovery: a runner-like process without a model that exits at once. */
export async function runDiscovery(): Promise<void> {
  await new Promise(r => setTimeout(r, 1200))
}
