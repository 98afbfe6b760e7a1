import { lstatSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { assertHeld } from './dir-hold.js'
import { readNoFollow } from './safe-open.js'

/** The file `memtrace mark` appends to, in the trace directory. */
export const MARKS_NAME = 'memtrace.marks'

/** Reads what `memtrace mark` appended since the last read: whole lines only, never through a link. */
export class MarksReader {
  readonly #path: string
  readonly #log: Logger
  #offset: number

  /** Marks already in the file when the daemon starts belong to an earlier run. */
  constructor(dir: string, log: Logger) {
    this.#path = join(dir, MARKS_NAME)
    this.#log = log
    this.#offset = this.#size()
  }

  #size(): number {
    try {
      return lstatSync(this.#path).size
    } catch {
      return 0
    }
  }

  /** The new markers, as time and text. */
  read(): { ts: string; text: string }[] {
    const size = this.#size()
    if (size < this.#offset) this.#offset = 0
    if (size === this.#offset) return []
    let text: string
    try {
      assertHeld(this.#path)
      text = readNoFollow(this.#path, { single: true }).data.subarray(this.#offset, size).toString('utf8')
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'markers not read')
      this.#offset = size
      return []
    }
    const complete = text.lastIndexOf('\n') + 1
    this.#offset += Buffer.byteLength(text.slice(0, complete))
    const marks: { ts: string; text: string }[] = []
    for (const line of text.slice(0, complete).split('\n')) {
      if (!line) continue
      try {
        const m = JSON.parse(line) as { ts?: string; text?: string }
        if (typeof m.ts === 'string' && typeof m.text === 'string') marks.push({ ts: m.ts, text: m.text })
      } catch {
        this.#log.warn({ line: line.slice(0, 200) }, 'ignored a damaged marker line')
      }
    }
    return marks
  }
}
