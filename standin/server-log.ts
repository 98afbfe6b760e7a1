/**
 * The stand-in's server log, on stderr as Ollama writes its own: Go's
 * structured text lines (`time=… level=… source=… msg=… key=value`), with
 * sizes as Ollama's format.HumanBytes2 prints them, for the lines the imitated
 * generation (0.30, llama-server runners) writes about memory.
 */
import { readFileSync } from 'node:fs'
import { freemem, totalmem } from 'node:os'

const KiB = 1024
const MiB = KiB * 1024
const GiB = MiB * 1024

/** Ollama's format.HumanBytes2: binary units, one decimal; bytes below a KiB as a whole number. */
export function humanBytes2(b: number): string {
  if (b >= GiB) return `${(b / GiB).toFixed(1)} GiB`
  if (b >= MiB) return `${(b / MiB).toFixed(1)} MiB`
  if (b >= KiB) return `${(b / KiB).toFixed(1)} KiB`
  return `${Math.round(b)} B`
}

/** A value as slog's text handler writes it: quoted when it holds a space, a quote, `=` or nothing. */
function value(v: string | number | boolean): string {
  const s = String(v)
  return s === '' || /[\s"=\\]/.test(s) ? JSON.stringify(s) : s
}

/** Memory as Ollama's scheduler reads it on Linux: MemTotal, MemAvailable and SwapFree from /proc/meminfo. */
export function systemMemory(): { total: number; free: number; freeSwap: number } {
  try {
    const text = readFileSync('/proc/meminfo', 'utf8')
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024
    const total = kb('MemTotal')
    const free = kb('MemAvailable')
    if (Number.isFinite(total) && Number.isFinite(free)) return { total, free, freeSwap: Number.isFinite(kb('SwapFree')) ? kb('SwapFree') : 0 }
  } catch {
    // not Linux
  }
  return { total: totalmem(), free: freemem(), freeSwap: 0 }
}

export class ServerLog {
  readonly #out: NodeJS.WritableStream
  readonly #now: () => number
  readonly #time: (ms: number) => string

  constructor(out: NodeJS.WritableStream, time: (ms: number) => string, now = Date.now) {
    this.#out = out
    this.#time = time
    this.#now = now
  }

  /** One line; sizes are given as bytes with a `Bytes` key suffix and printed as Ollama prints them. */
  line(level: 'INFO' | 'WARN' | 'ERROR', source: string, msg: string, fields: Record<string, string | number | boolean> = {}): void {
    let text = `time=${this.#time(this.#now())} level=${level} source=${source} msg=${value(msg)}`
    for (const [k, v] of Object.entries(fields)) {
      text += k.endsWith('Bytes') ? ` ${k.slice(0, -5)}=${value(humanBytes2(v as number))}` : ` ${k}=${value(v)}`
    }
    this.#out.write(`${text}\n`)
  }
}

/**
 * A runner's output copied into the server's log line by line, as Ollama
 * copies its runner's (its StatusWriter writes them to its own stderr).
 * `reached(n)` resolves once n lines are copied, or the output has ended.
 */
export function copyLines(from: NodeJS.ReadableStream, write: (line: string) => void): { reached(n: number): Promise<void> } {
  let rest = ''
  let count = 0
  let ended = false
  const waiting: { n: number; ok: () => void }[] = []
  const settle = () => {
    for (const w of waiting.filter(w => ended || count >= w.n)) {
      waiting.splice(waiting.indexOf(w), 1)
      w.ok()
    }
  }
  from.setEncoding('utf8')
  from.on('data', (d: string) => {
    rest += d
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      write(rest.slice(0, nl))
      rest = rest.slice(nl + 1)
      count++
    }
    settle()
  })
  const end = () => {
    if (ended) return
    if (rest) write(rest)
    rest = ''
    ended = true
    settle()
  }
  from.on('end', end)
  from.on('close', end)
  return { reached: n => new Promise<void>(ok => (ended || count >= n ? ok() : waiting.push({ n, ok }))) }
}
