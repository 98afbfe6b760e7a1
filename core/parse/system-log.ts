import type { SystemSample, TraceEvent } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import type { BlockMemo } from './json-body.js'
import type { BlockProc } from './windows-lines.js'
import { parseBlock, type BlockLine } from './system-block.js'
import { TsCache } from './time.js'

const HEADER_RE = /^===== (.+?) =====\s*$/
/** A block longer than this is damage (two traces spliced, a runaway section). */
const MAX_BLOCK_LINES = 20_000
/** Nor may a block hold more text than this: memory stays bounded whatever the lines hold. */
const MAX_BLOCK_CHARS = 4 << 20

export interface SystemBlock {
  sample: SystemSample
  tsMs: number
  events: TraceEvent[]
  /** Processes a pasted Windows listing in the block gave: samples of the block's time. */
  procs?: BlockProc[]
}

/**
 * Reads the system trace one line at a time and yields a block when the next
 * header (or the end) closes it. Memory holds one block, never the file.
 */
export class SystemLogParser {
  readonly #file: string
  readonly #problems: ProblemLog
  readonly #ts = new TsCache()
  #head: { ts: string; tsMs: number; line: number } | undefined
  #lines: BlockLine[] = []
  readonly #memo: BlockMemo = {}
  #chars = 0
  #lastMs = -Infinity
  #orphans = 0
  #inBadBlock = false
  blocks = 0
  /** The file began as a performance counters' CSV (typeperf, Export-Counter), not as a block. */
  countersCsv = false

  constructor(file: string, problems: ProblemLog) {
    this.#file = file
    this.#problems = problems
  }

  line(raw: string, lineNo: number): SystemBlock | undefined {
    const text = raw.charCodeAt(raw.length - 1) === 13 /* \r */ ? raw.slice(0, -1) : raw
    if (text.charCodeAt(0) === 61 /* = */) {
      const m = HEADER_RE.exec(text)
      if (m) return this.#open(m[1] as string, lineNo)
    }
    if (!this.#head) {
      if (this.#orphans === 0 && text.startsWith('"(PDH-CSV ')) this.countersCsv = true
      if (text.trim() !== '' && !this.#inBadBlock) {
        this.#orphans++
        this.#problems.add(this.#file, lineNo, 'unrecognised-line', 'text before the first ===== ts ===== header')
      }
      return undefined
    }
    if (this.#lines.length < MAX_BLOCK_LINES && this.#chars + text.length <= MAX_BLOCK_CHARS) {
      this.#lines.push({ text, no: lineNo })
      this.#chars += text.length
    } else if (this.#lines.length <= MAX_BLOCK_LINES && this.#chars <= MAX_BLOCK_CHARS) {
      this.#problems.add(this.#file, lineNo, 'bad-block', `block longer than ${MAX_BLOCK_LINES} lines or ${MAX_BLOCK_CHARS >> 20} MiB; rest ignored`)
      this.#lines.push({ text: '', no: lineNo })
      this.#chars = MAX_BLOCK_CHARS + 1
    }
    return undefined
  }

  /** The last line had no newline: keep the block, drop the cut line. */
  truncated(lineNo: number): void {
    this.#problems.add(this.#file, lineNo, 'truncated-line', 'last line has no newline (cut short while writing); skipped')
  }

  /** Closes the last block. */
  end(): SystemBlock | undefined {
    return this.#close()
  }

  get orphanLines(): number {
    return this.#orphans
  }

  #open(ts: string, lineNo: number): SystemBlock | undefined {
    const done = this.#close()
    const tsMs = this.#ts.parse(ts)
    if (Number.isNaN(tsMs)) {
      this.#problems.add(this.#file, lineNo, 'bad-timestamp', `block header time is not ISO-8601 UTC: ${ts.slice(0, 40)}`)
      this.#head = undefined
      this.#inBadBlock = true // its lines belong to that one problem
      return done
    }
    if (tsMs < this.#lastMs) {
      this.#problems.add(this.#file, lineNo, 'out-of-order', 'block time goes backwards; kept and sorted')
    } else this.#lastMs = tsMs
    this.#head = { ts, tsMs, line: lineNo }
    this.#inBadBlock = false
    return done
  }

  #close(): SystemBlock | undefined {
    const head = this.#head
    const lines = this.#lines
    this.#head = undefined
    this.#lines = []
    this.#chars = 0
    if (!head) return undefined
    this.blocks++
    const { sample, events, procs } = parseBlock(this.#file, head.ts, head.line, lines, this.#problems, this.#memo)
    return { sample, tsMs: head.tsMs, events, procs }
  }
}
