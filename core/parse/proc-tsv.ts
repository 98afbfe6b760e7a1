import { MAX_KIB, MAX_PID } from './ranges.js'

/** The most of a command line and of a comm that is kept. */
export const MAX_COMMAND = 8192
const MAX_COMM = 256
import type { ProcessSample } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import { TsCache } from './time.js'

const HEADER = ['ts', 'pid', 'ppid', 'comm', 'rss_kb', 'vsz_kb', 'command']

/** The process trace's header line, as the daemon writes it. */
export const TSV_HEADER = `${HEADER.join('\t')}\n`
const UINT_RE = /^\d+$/

/** A parsed row plus its time in ms, which the model needs and JSON omits. */
export interface ProcRow {
  sample: ProcessSample
  tsMs: number
}

/**
 * Reads the process trace one line at a time: the header
 * `ts pid ppid comm rss_kb vsz_kb command` (tab-separated) and rows as the
 * seed's awk writes them or memtrace's daemon does. Never throws on data.
 */
export class ProcTsvParser {
  readonly #file: string
  readonly #problems: ProblemLog
  readonly #ts = new TsCache()
  #lastMs = -Infinity
  #sawHeader = false
  rows = 0

  constructor(file: string, problems: ProblemLog) {
    this.#file = file
    this.#problems = problems
  }

  get sawHeader(): boolean {
    return this.#sawHeader
  }

  /** One complete line (without its newline). */
  line(raw: string, lineNo: number): ProcRow | undefined {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (text.length === 0) return undefined
    if (text.startsWith('ts\t') || text.startsWith('ts ')) return this.#header(text, lineNo)
    const f = text.split('\t')
    if (f.length < 6) return this.#bad(lineNo, `expected 7 tab-separated columns, found ${f.length}`)
    const [ts, pid, ppid, comm, rss, vsz] = f as [string, string, string, string, string, string]
    if (!UINT_RE.test(pid) || !UINT_RE.test(ppid) || !UINT_RE.test(rss) || !UINT_RE.test(vsz)) {
      return this.#bad(lineNo, 'pid, ppid, rss_kb and vsz_kb must be whole numbers')
    }
    const pidN = Number(pid)
    const ppidN = Number(ppid)
    const rssKb = Number(rss)
    const vszKb = Number(vsz)
    if (pidN > MAX_PID || ppidN > MAX_PID || rssKb > MAX_KIB || vszKb > MAX_KIB) {
      return this.#bad(lineNo, 'a pid or size no machine has (overflow or out of range)')
    }
    const tsMs = this.#ts.parse(ts)
    if (Number.isNaN(tsMs)) {
      this.#problems.add(this.#file, lineNo, 'bad-timestamp', `not an ISO-8601 UTC time: ${clip(ts)}`)
      return undefined
    }
    if (tsMs < this.#lastMs) {
      this.#problems.add(this.#file, lineNo, 'out-of-order', 'time goes backwards; row kept and sorted')
    } else this.#lastMs = tsMs
    this.rows++
    // What is kept of a command line is bounded: a runner's model is in its first few hundred characters.
    const command = (f.length > 7 ? f.slice(6).join('\t') : (f[6] ?? '')).slice(0, MAX_COMMAND)
    return {
      tsMs,
      sample: {
        record: 'process-sample',
        ts,
        line: lineNo,
        pid: pidN,
        ppid: ppidN,
        comm: comm.slice(0, MAX_COMM),
        rssKb,
        vszKb,
        command,
      },
    }
  }

  /** The last line had no newline: a write cut short. It is not used. */
  truncated(lineNo: number): void {
    this.#problems.add(this.#file, lineNo, 'truncated-line', 'last line has no newline (cut short while writing); skipped')
  }

  #header(text: string, lineNo: number): undefined {
    const cols = text.split('\t')
    const ok = cols.length === HEADER.length && cols.every((c, i) => c.trim() === HEADER[i])
    if (!ok) {
      this.#problems.add(this.#file, lineNo, 'bad-header', `expected "${HEADER.join('\\t')}"`)
    }
    this.#sawHeader = true
    return undefined
  }

  #bad(lineNo: number, message: string): undefined {
    this.#problems.add(this.#file, lineNo, 'bad-row', message)
    return undefined
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}
