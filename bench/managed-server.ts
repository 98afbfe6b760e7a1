/**
 * A server memtrace manages for an experiment: its own `ollama serve` (or
 * `--serve-cmd`) on a free loopback port, started with the environment a
 * step asks for and stopped after it. The user's own server is never touched.
 */
import { PARALLEL_ARG_RE } from '../core/model/roles.js'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { serverGone, serverStarted } from './guard.js'

export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>(ok => s.listen(0, '127.0.0.1', ok))
  const port = (s.address() as { port: number }).port
  await new Promise<void>(ok => s.close(() => ok()))
  return port
}

/** Every process of every server memtrace started in this run, and their descendants seen: the memory chart draws only these. */
const started = new Set<number>()
export function managedPids(): number[] {
  return [...started]
}

/** The server command cannot serve at all (not found, exits at once, never answers): no step can run. */
export class ServerError extends Error {}

export class ManagedServer {
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  /** Where this start's part of the log begins. */
  #logFrom = 0

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

  /**
   * Starts it with `env` added, in a process group of its own, and waits
   * until it answers (or says why not). A server that exits before answering
   * is a ServerError: the command cannot serve, whatever the step.
   */
  async start(env: Record<string, string>, timeoutMs = 30_000): Promise<void> {
    await this.#portFree()
    this.#logFrom = existsSync(this.logFile) ? statSync(this.logFile).size : 0
    const log = createWriteStream(this.logFile, { flags: 'a' })
    const child = spawn(this.cmd[0] as string, this.cmd.slice(1), { env: { ...process.env, ...env, OLLAMA_HOST: `127.0.0.1:${this.port}` }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
    this.#child = child
    // Its group dies with the bench, even on SIGKILL.
    if (child.pid !== undefined) {
      serverStarted(child.pid)
      started.add(child.pid)
    }
    let failed: string | undefined
    this.#exited = new Promise(ok => child.once('exit', (code, sig) => ((failed = `${this.cmd.join(' ')} exited (${sig ?? `status ${code}`}) before it answered; see ${this.logFile}`), ok())))
    child.once('error', e => (failed = `${this.cmd.join(' ')}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'command not found' : e.message}`))
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      if (failed) throw new ServerError(failed)
      try {
        const r = await fetch(`${this.url}/api/version`, { signal: AbortSignal.timeout(1000) })
        // Only its own answer counts: the child must still be alive.
        if (r.ok && child.exitCode === null && child.signalCode === null) {
          // Behind a wrapper, the real server is a descendant: it is one of the run's own processes too.
          this.#runners()
          return
        }
      } catch {
        // not listening yet
      }
      await new Promise(ok => setTimeout(ok, 100))
    }
    await this.stop()
    throw new ServerError(`${this.cmd.join(' ')} did not answer on ${this.url} within ${timeoutMs / 1000} s; see ${this.logFile}`)
  }

  /** Waits until nothing listens on its port (a server it stopped may take a moment). */
  async #portFree(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const busy = await fetch(`${this.url}/api/version`, { signal: AbortSignal.timeout(500) }).then(() => true, () => false)
      if (!busy) return
      await new Promise(ok => setTimeout(ok, 100))
    }
    throw new ServerError(`something still answers on ${this.url}, which this run chose for its own server`)
  }

  /** Stops it and everything it started (its process group: SIGTERM, then SIGKILL after 10 s); its runners go with it. */
  async stop(): Promise<void> {
    const child = this.#child
    if (!child || child.pid === undefined) return
    this.#child = undefined
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), sig)
      } catch {
        // the group is gone
      }
    }
    if (child.exitCode === null && child.signalCode === null) {
      group('SIGTERM')
      const killer = setTimeout(() => group('SIGKILL'), 10_000)
      await this.#exited
      clearTimeout(killer)
    }
    // A wrapper that did not exec leaves the real server in the group: it goes too.
    group('SIGKILL')
    // Its runners may take a moment to give their memory back: the next step starts when they are gone.
    for (let i = 0; i < 100 && alive(-(child.pid as number)); i++) await new Promise(ok => setTimeout(ok, 50))
    // One still there after 5 s stays the guardian's to end, should the bench die.
    if (!alive(-(child.pid as number))) serverGone(child.pid as number)
  }

  /** Stops it at once, for an exit on a signal: the group gets SIGKILL. */
  killNow(): void {
    const pid = this.#child?.pid
    if (pid === undefined) return
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // gone
    }
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
    for (const k of kids) started.add(k)
    return rows.filter(m => Number(m[1]) !== pid && kids.has(Number(m[1])) && /\s--model\s/.test(m[3] as string)).map(m => ({ pid: Number(m[1]), args: m[3] as string }))
  }

  /** The PIDs of its runners still alive. */
  runnerPids(): number[] {
    return this.#runners().map(r => r.pid)
  }

  /** This start's part of its log (the file holds every restart's); '' when it cannot be read. */
  log(): string {
    try {
      return readFileSync(this.logFile).subarray(this.#logFrom).toString('utf8')
    } catch {
      return ''
    }
  }

  effectiveParallel(): number | undefined {
    if (this.pid === undefined) return undefined
    for (const r of this.#runners()) {
      const np = PARALLEL_ARG_RE.exec(r.args)
      if (np) return Number(np[1])
    }
    // Only this start's part: the file holds every restart's.
    const log = this.log()
    const all = [...log.matchAll(/(?:n_seq_max\s*=\s*|NumParallel:|parallel=)(\d+)/g)]
    const last = all[all.length - 1]
    return last ? Number(last[1]) : undefined
  }
}

/** Whether a process (or, with a negative PID, any process of a group) still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
