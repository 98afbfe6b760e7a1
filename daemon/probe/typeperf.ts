import { type ChildProcess, spawn } from 'node:child_process'

/**
 * One `typeperf COUNTERS -si N` that lives as long as the daemon and prints
 * a CSV row of the counters every N seconds: its header once
 * (`"(PDH-CSV 4.0)","\\HOST\Memory\Available Bytes",…`), then one quoted
 * row per sample (`" "` for a rate's first). Each system sample takes the
 * header and the newest row, as typeperf printed them, which `render` reads
 * as the counters' CSV. A typeperf that ended is started again at the next
 * sample (at most every 5 s), and said. One that printed no header three
 * times in a row, or a header without the counters' English names (a
 * Windows in another language translates them, and `render` reads the
 * English ones only), is given up, and said once: the memory figures then
 * come from systeminfo's lines alone.
 */
export class CounterStream {
  readonly #cmd: string
  readonly #args: string[]
  readonly #everyMs: number
  #child: ChildProcess | undefined
  #buf = ''
  #header: string | undefined
  #row: string | undefined
  #rowAt = 0
  #startedAt = -Infinity
  /** Why the last typeperf ended, with the last line it printed that was not CSV (its own error message). */
  #ended: string | undefined
  #said: string | undefined
  #closed = false
  readonly #counters: string[]
  /** typeperf runs in a row that ended before their header. */
  #headless = 0
  /** Why typeperf is given up, and whether that was said. */
  #givenUp: { why: string; said: boolean } | undefined
  /** How many typeperf processes were started. */
  starts = 0

  constructor(cmd: string, counters: string[], everyS: number, signal: AbortSignal) {
    this.#cmd = cmd
    this.#counters = counters
    this.#args = [...counters, '-si', String(everyS)]
    this.#everyMs = everyS * 1000
    signal.addEventListener('abort', () => this.close(), { once: true })
  }

  /** The header and the newest row, followed by a blank line (the end of the CSV for `render`); or why there is none. */
  sample(now = Date.now()): { text: string; error?: string } {
    if (this.#closed) return { text: '' }
    if (this.#givenUp) {
      if (this.#givenUp.said) return { text: '' }
      this.#givenUp.said = true
      return { text: '', error: this.#givenUp.why }
    }
    let error: string | undefined
    if (!this.#child && now - this.#startedAt >= 5000) {
      if (this.starts > 0) error = `typeperf ${this.#ended ?? 'ended'}; started again`
      this.#start(now)
    }
    if (this.#header && this.#row && now - this.#rowAt <= 2 * this.#everyMs + 1000) return error ? { text: `${this.#header}\n${this.#row}\n\n`, error } : { text: `${this.#header}\n${this.#row}\n\n` }
    if (!error && this.#child && now - this.#startedAt > 2 * this.#everyMs + 2000) error = this.#row ? `typeperf: no new row for ${Math.round((now - this.#rowAt) / 1000)} s` : `typeperf: no sample within ${Math.round((now - this.#startedAt) / 1000)} s of its start${this.#said ? `: ${this.#said}` : ''}`
    if (!error && !this.#child) error = `typeperf ${this.#ended ?? 'ended'}`
    return error ? { text: '', error } : { text: '' }
  }

  #start(now: number): void {
    this.#startedAt = now
    this.starts++
    this.#buf = ''
    this.#header = undefined
    this.#row = undefined
    this.#said = undefined
    const child = spawn(this.#cmd, this.#args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true })
    this.#child = child
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (d: string) => this.#data(d))
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (d: string) => (this.#said = d.trim().split('\n')[0]?.slice(0, 200)))
    child.on('error', e => this.#gone(child, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : e.message))
    child.on('exit', (code, signal) => this.#gone(child, `exited (${signal ?? `status ${code}`})${this.#said ? `: ${this.#said}` : ''}`))
  }

  #data(d: string): void {
    this.#buf += d
    let nl
    while ((nl = this.#buf.indexOf('\n')) !== -1) {
      const line = this.#buf.slice(0, nl).replace(/\r$/, '').trim()
      this.#buf = this.#buf.slice(nl + 1)
      if (line.startsWith('"(PDH-CSV ')) {
        const lower = line.toLowerCase()
        const foreign = this.#counters.filter(c => !lower.includes(`${c.toLowerCase()}"`))
        if (foreign.length > 0) return this.#giveUp(`typeperf names the counters in this Windows' language (${foreign[0]} is not in its header): the memory figures come from Win32_OperatingSystem alone, without pages/s and the page file's use`)
        this.#header = line
        this.#row = undefined
      } else if (line.startsWith('"') && this.#header) {
        this.#row = line
        this.#rowAt = Date.now()
      } else if (line !== '') this.#said = line.slice(0, 200)
    }
    if (this.#buf.length > 65536) this.#buf = ''
  }

  #gone(child: ChildProcess, why: string): void {
    if (this.#child !== child) return
    this.#child = undefined
    this.#ended = why
    this.#headless = this.#header ? 0 : this.#headless + 1
    if (this.#headless >= 3) this.#giveUp(`typeperf ${why}, three times without a sample: given up; the memory figures come from Win32_OperatingSystem alone, without pages/s and the page file's use`)
  }

  #giveUp(why: string): void {
    this.#givenUp = { why, said: false }
    this.#header = undefined
    this.#row = undefined
    const child = this.#child
    this.#child = undefined
    child?.kill()
  }

  close(): void {
    this.#closed = true
    const child = this.#child
    this.#child = undefined
    child?.kill()
  }
}
