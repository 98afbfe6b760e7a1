import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Whether this is a Jetson (Tegra) board, by the device tree's compatible string. */
export function isTegra(procRoot: string): boolean {
  try {
    return readFileSync(join(procRoot, 'device-tree', 'compatible'), 'latin1').includes('nvidia,tegra')
  } catch {
    return false
  }
}

/**
 * `tegrastats` on a Jetson: started once, it prints a line per interval; each
 * sample writes the last line it printed. Its RAM is the board's, GPU
 * allocations included, and its presence tells the renderer that GPU memory
 * is system RAM. Where tegrastats is missing or stops, that is said once.
 */
export class TegrastatsSource {
  #child: ChildProcess | undefined
  #last = ''
  #state: 'off' | 'running' | 'gone' = 'off'
  #error: string | undefined

  constructor(
    private readonly intervalMs: number,
    private readonly signal: AbortSignal,
  ) {}

  sample(): { text: string; error?: string } {
    if (this.#state === 'off') this.#start()
    const error = this.#error
    this.#error = undefined
    const line = this.#last
    this.#last = ''
    return { text: line ? `${line}\n` : '', ...(error ? { error } : {}) }
  }

  #start(): void {
    this.#state = 'running'
    const child = spawn('tegrastats', ['--interval', String(Math.max(100, Math.round(this.intervalMs)))], { stdio: ['ignore', 'pipe', 'ignore'] })
    this.#child = child
    let buf = ''
    child.stdout?.setEncoding('latin1')
    child.stdout?.on('data', (d: string) => {
      buf += d
      const nl = buf.lastIndexOf('\n')
      if (nl < 0) {
        if (buf.length > 8192) buf = '' // no line this long: not tegrastats
        return
      }
      const lines = buf.slice(0, nl).split('\n').filter(l => l.trim() !== '')
      buf = buf.slice(nl + 1)
      const last = lines[lines.length - 1]
      if (last !== undefined && last.length <= 4096) this.#last = last.trim()
    })
    child.on('error', e => {
      this.#state = 'gone'
      this.#error = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'tegrastats: command not found' : `tegrastats: ${e.message}`
    })
    child.on('exit', code => {
      if (this.#state !== 'running') return
      this.#state = 'gone'
      if (!this.signal.aborted) this.#error = `tegrastats stopped (exit ${code}); not started again`
    })
    this.signal.addEventListener('abort', () => this.stop(), { once: true })
  }

  stop(): void {
    const c = this.#child
    this.#child = undefined
    if (this.#state === 'running') this.#state = 'gone'
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  }
}
