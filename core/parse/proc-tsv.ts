import { MAX_KIB, MAX_PID } from './ranges.js'

/** The most of a command line and of a comm that is kept. */
export const MAX_COMMAND = 8192
const MAX_COMM = 256
import type { ProcessSample } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import { detach } from './detach.js'
import { TsCache } from './time.js'

const HEADER = ['ts', 'pid', 'ppid', 'comm', 'rss_kb', 'vsz_kb', 'command']

/** The process trace's header line, as the seed's loop and `render --prometheus` write it: every row has its command. */
export const TSV_HEADER = `${HEADER.join('\t')}\n`

/** The mark after the seven names of a trace whose rows may leave out an unchanged command (format 2, the daemon's). */
export const FORMAT_2 = 'v2'

/**
 * The header of format 2, as the daemon writes it: a row with six columns
 * (no command) has the command of its PID's last row that had one, so a
 * command line is written once per process and again when it changes.
 */
export const TSV_HEADER_2 = `${HEADER.join('\t')}\t${FORMAT_2}\n`

/** A parsed row plus its time in ms, which the model needs and JSON omits. */
export interface ProcRow {
  sample: ProcessSample
  tsMs: number
}

/** Recent PIDs' comm and command, by PID modulo this: a row's strings are those of the PID's last row when equal. */
const SLOTS = 1024
/** Up to this many digits, reading a number digit by digit is exact; longer ones go to Number(). */
const EXACT_DIGITS = 15

/**
 * Reads the process trace one line at a time: the header
 * `ts pid ppid comm rss_kb vsz_kb command` (tab-separated) and rows as the
 * seed's awk writes them or memtrace's daemon does. Never throws on data.
 *
 * Fields are found by their tabs and numbers read digit by digit: no split,
 * no pattern and no string per field on the way. A PID's comm and command
 * are the same string objects row after row (copied out of the file's text
 * once), so comparing them is cheap and keeping them keeps no chunk.
 */
export class ProcTsvParser {
  readonly #file: string
  readonly #problems: ProblemLog
  readonly #ts = new TsCache()
  #lastTs = ''
  #lastMs = -Infinity
  #sawHeader = false
  /** Format 2 (after its header): each PID's last command given, for its rows that leave it out. */
  #commands: Map<number, string> | undefined
  readonly #slotPid = new Float64Array(SLOTS).fill(-1)
  readonly #slotComm: string[] = new Array<string>(SLOTS).fill('')
  readonly #slotCommand: string[] = new Array<string>(SLOTS).fill('')
  rows = 0
  // The fields of the last row scan() accepted.
  tsMs = NaN
  ts = ''
  lineNo = 0
  pid = 0
  ppid = 0
  comm = ''
  rssKb = 0
  vszKb = 0
  command = ''

  constructor(file: string, problems: ProblemLog) {
    this.#file = file
    this.#problems = problems
  }

  get sawHeader(): boolean {
    return this.#sawHeader
  }

  /** One complete line (without its newline). */
  line(raw: string, lineNo: number): ProcRow | undefined {
    return this.scan(raw, lineNo) ? this.row() : undefined
  }

  /** The last row scan() accepted, as a record. */
  row(): ProcRow {
    return {
      tsMs: this.tsMs,
      sample: {
        record: 'process-sample',
        ts: this.ts,
        line: this.lineNo,
        pid: this.pid,
        ppid: this.ppid,
        comm: this.comm,
        rssKb: this.rssKb,
        vszKb: this.vszKb,
        command: this.command,
      },
    }
  }

  /** One complete line: true when it is a row, whose fields are then this parser's. */
  scan(raw: string, lineNo: number): boolean {
    const end = raw.charCodeAt(raw.length - 1) === 13 ? raw.length - 1 : raw.length
    if (end === 0) return false
    if (end >= 3 && raw.charCodeAt(0) === 116 && raw.charCodeAt(1) === 115 && (raw.charCodeAt(2) === 9 || raw.charCodeAt(2) === 32)) {
      this.#header(raw.slice(0, end), lineNo)
      return false
    }
    // A tab is never the dropped \r, so these stay inside the line.
    const t1 = raw.indexOf('\t')
    const t2 = t1 < 0 ? -1 : raw.indexOf('\t', t1 + 1)
    const t3 = t2 < 0 ? -1 : raw.indexOf('\t', t2 + 1)
    const t4 = t3 < 0 ? -1 : raw.indexOf('\t', t3 + 1)
    const t5 = t4 < 0 ? -1 : raw.indexOf('\t', t4 + 1)
    if (t5 < 0) return this.#bad(lineNo, `expected 7 tab-separated columns, found ${raw.slice(0, end).split('\t').length}`)
    const t6 = raw.indexOf('\t', t5 + 1)
    const pid = uint(raw, t1 + 1, t2)
    const ppid = uint(raw, t2 + 1, t3)
    const rssKb = uint(raw, t4 + 1, t5)
    const vszKb = uint(raw, t5 + 1, t6 < 0 ? end : t6)
    if (pid < 0 || ppid < 0 || rssKb < 0 || vszKb < 0) return this.#bad(lineNo, 'pid, ppid, rss_kb and vsz_kb must be whole numbers')
    if (pid > MAX_PID || ppid > MAX_PID || rssKb > MAX_KIB || vszKb > MAX_KIB) {
      return this.#bad(lineNo, 'a pid or size no machine has (overflow or out of range)')
    }
    // Rows of one sample share their time: the last one's string is reused when the text is the same.
    const last = this.#lastTs
    let ts = raw.slice(0, t1)
    if (ts === last) ts = last
    this.#lastTs = ts
    const tsMs = this.#ts.parse(ts)
    if (Number.isNaN(tsMs)) {
      this.#problems.add(this.#file, lineNo, 'bad-timestamp', `not an ISO-8601 UTC time: ${clip(ts)}`)
      return false
    }
    if (tsMs < this.#lastMs) {
      this.#problems.add(this.#file, lineNo, 'out-of-order', 'time goes backwards; row kept and sorted')
    } else this.#lastMs = tsMs
    this.rows++
    // What is kept of a command line is bounded: a runner's model is in its first few hundred characters.
    const slot = pid & (SLOTS - 1)
    const known = this.#slotPid[slot] === pid
    this.#slotPid[slot] = pid
    const comm = same(raw, t3 + 1, Math.min(t4 - t3 - 1, MAX_COMM), known ? (this.#slotComm[slot] as string) : undefined)
    const cmdFrom = t6 < 0 ? end : t6 + 1
    let command: string
    if (t6 < 0 && this.#commands) command = this.#commands.get(pid) ?? ''
    else {
      command = same(raw, cmdFrom, Math.min(end - cmdFrom, MAX_COMMAND), known ? (this.#slotCommand[slot] as string) : undefined)
      this.#commands?.set(pid, command)
    }
    this.#slotComm[slot] = comm
    this.#slotCommand[slot] = command
    this.tsMs = tsMs
    this.ts = ts
    this.lineNo = lineNo
    this.pid = pid
    this.ppid = ppid
    this.comm = comm
    this.rssKb = rssKb
    this.vszKb = vszKb
    this.command = command
    return true
  }

  /** The last line had no newline: a write cut short. It is not used. */
  truncated(lineNo: number): void {
    this.#problems.add(this.#file, lineNo, 'truncated-line', 'last line has no newline (cut short while writing); skipped')
  }

  #header(text: string, lineNo: number): undefined {
    const cols = text.split('\t')
    // Format 2 from its header on, each file (traces concatenated) on its own; a header of format 1 ends it.
    const v2 = cols.length === HEADER.length + 1 && cols[HEADER.length]?.trim() === FORMAT_2
    this.#commands = v2 ? new Map() : undefined
    const ok = (cols.length === HEADER.length || v2) && HEADER.every((h, i) => cols[i]?.trim() === h)
    if (!ok) {
      this.#problems.add(this.#file, lineNo, 'bad-header', `expected "${HEADER.join('\\t')}"`)
    }
    this.#sawHeader = true
    return undefined
  }

  #bad(lineNo: number, message: string): false {
    this.#problems.add(this.#file, lineNo, 'bad-row', message)
    return false
  }
}

/** The whole number in s[from, to), or -1 when it is not one (no digits, or any other character). */
function uint(s: string, from: number, to: number): number {
  if (from >= to) return -1
  let v = 0
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return to - from > EXACT_DIGITS ? Number(s.slice(from, to)) : v
}

/** s[from, from + len) as `known` when that holds the same text, else as a string of its own. */
function same(s: string, from: number, len: number, known: string | undefined): string {
  const text = s.slice(from, from + len) // a view, not a copy; compared whole (faster than startsWith at an offset)
  if (known !== undefined && known === text) return known
  return detach(text)
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}
