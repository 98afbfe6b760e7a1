/**
 * A server memtrace manages for an experiment: its own `ollama serve` (or
 * `--serve-cmd`) on a free loopback port, started with the environment a
 * step asks for and stopped after it. The user's own server is never touched.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { createServer } from 'node:net'

export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>(ok => s.listen(0, '127.0.0.1', ok))
  const port = (s.address() as { port: number }).port
  await new Promise<void>(ok => s.close(() => ok()))
  return port
}

export class ManagedServer {
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()

  constructor(
    readonly cmd: string[],
    readonly port: number,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** Starts it with `env` added and waits until it answers (or says why not). */
  async start(env: Record<string, string>, timeoutMs = 30_000): Promise<void> {
    const log = createWriteStream(this.logFile, { flags: 'a' })
    const child = spawn(this.cmd[0] as string, this.cmd.slice(1), { env: { ...process.env, ...env, OLLAMA_HOST: `127.0.0.1:${this.port}` }, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
    this.#child = child
    let failed: string | undefined
    this.#exited = new Promise(ok => child.once('exit', (code, sig) => ((failed = `${this.cmd.join(' ')} exited (${sig ?? code})`), ok())))
    child.once('error', e => (failed = `${this.cmd.join(' ')}: ${e.message}`))
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      if (failed) throw new Error(failed)
      try {
        const r = await fetch(`${this.url}/api/version`, { signal: AbortSignal.timeout(1000) })
        if (r.ok) return
      } catch {
        // not listening yet
      }
      await new Promise(ok => setTimeout(ok, 100))
    }
    throw new Error(`${this.cmd.join(' ')} did not answer on ${this.url} within ${timeoutMs / 1000} s`)
  }

  /** Stops it (SIGTERM, then SIGKILL after 10 s); its runners go with it. */
  async stop(): Promise<void> {
    const child = this.#child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await this.#exited
    clearTimeout(killer)
    this.#child = undefined
  }

  /**
   * The NUM_PARALLEL its runner really got: `--parallel N` or `-np N` on the
   * runner's command line (a descendant of the server), else what the server
   * logged (`n_seq_max = N`, `NumParallel:N`, `parallel=N`).
   */
  /** The server's descendants that run a model (`--model` on their command line), with their arguments. */
  #runners(): { pid: number; args: string }[] {
    const pid = this.pid
    if (pid === undefined) return []
    const ps = spawnSync('ps', ['-axo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    const rows = (ps.stdout ?? '').split('\n').map(l => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null)
    const kids = new Set([pid])
    for (let grew = true; grew; ) {
      grew = false
      for (const m of rows) if (kids.has(Number(m[2])) && !kids.has(Number(m[1]))) (kids.add(Number(m[1])), (grew = true))
    }
    return rows.filter(m => Number(m[1]) !== pid && kids.has(Number(m[1])) && /\s--model\s/.test(m[3] as string)).map(m => ({ pid: Number(m[1]), args: m[3] as string }))
  }

  /** The PIDs of its runners still alive. */
  runnerPids(): number[] {
    return this.#runners().map(r => r.pid)
  }

  effectiveParallel(): number | undefined {
    if (this.pid === undefined) return undefined
    for (const r of this.#runners()) {
      const np = /\s(?:--parallel|-np|--n-parallel)[\s=](\d+)/.exec(r.args)
      if (np) return Number(np[1])
    }
    let log = ''
    try {
      log = readFileSync(this.logFile, 'utf8')
    } catch {
      return undefined
    }
    const all = [...log.matchAll(/(?:n_seq_max\s*=\s*|NumParallel:|parallel=)(\d+)/g)]
    const last = all[all.length - 1]
    return last ? Number(last[1]) : undefined
  }
}
