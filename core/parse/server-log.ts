/**
 * An LLM server's own log, read for why memory did what it did: Ollama's
 * structured lines (every generation), llama.cpp's, MLX's and the kernel's
 * OOM kills, from a file the daemon kept or from a paste (journal, docker,
 * dmesg, a terminal's wrapped lines, a Markdown quote). Everything else in a
 * log (requests, prompts in a debug log) is read past and never kept.
 */
import type { ServerEvent } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import { logfmt, opensQuote } from './server-log/logfmt.js'
import { type EventBody, ollamaLine, Unreadable } from './server-log/ollama-lines.js'
import { otherLine } from './server-log/other-lines.js'
import { stripPrefix, type Stripped } from './server-log/prefix.js'
import { formatTs, parseTs } from './time.js'

/** No line memtrace reads is longer: past it (a prompt in a debug log) nothing is tried. */
const MAX_LINE = 16 * 1024
/** A quoted value wrapped by a terminal continues on at most this many lines. */
const MAX_WRAPPED = 8
const GO_LOG_RE = /^(\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d) /

/**
 * Whether `raw` goes on the structured line before it, cut by a terminal's
 * width: never a line of its own (a time, a prefix, a message, a
 * llama.cpp `func: …` line, a blank); inside an open quote always; else
 * only a piece of `key=value` text, or one word (the end of a value), never
 * a sentence someone wrote between the lines.
 */
function continues(body: string, raw: string): boolean {
  const t = raw.trim()
  if (t === '') return false
  if (opensQuote(body) || body.endsWith('=')) return true
  const next = stripPrefix(raw)
  if (next.ms !== undefined || next.clock !== undefined || next.uptimeS !== undefined || /^time=|msg=/.test(next.body) || /^[\w.]+: /.test(t)) return false
  return /^[\w.]*=|\s[\w.]+=/.test(t) || !/\s/.test(t)
}

/** Reads a server log line by line; feed every line, then `end()`. */
export class ServerLogParser {
  readonly #file: string
  readonly #problems: ProblemLog
  /** A structured line whose quoted value has not closed yet: a terminal wrapped it. */
  #pending: { prefix: Stripped; body: string; no: number; lines: number; indent: number } | undefined

  constructor(file: string, problems: ProblemLog) {
    this.#file = file
    this.#problems = problems
  }

  /** The events this line completes (none, one, or the line before's and this one's). */
  line(text: string, no: number): ServerEvent[] {
    if (text.length > MAX_LINE) return this.#flush()
    const raw = text.endsWith('\r') ? text.slice(0, -1) : text
    const out: ServerEvent[] = []
    const p = this.#pending
    if (p) {
      if (continues(p.body, raw) && p.body.length + raw.length <= MAX_LINE && p.lines < MAX_WRAPPED) {
        // A terminal cuts anywhere, a space included: only the paste's own indentation is taken off.
        p.body += raw.slice(Math.min(p.indent, raw.length - raw.trimStart().length))
        p.lines++
        return []
      }
      out.push(...this.#flush())
    }
    const prefix = stripPrefix(raw)
    // A structured line waits for the next: a terminal or a chat may have wrapped it.
    if (prefix.body.includes('msg=') || /^(?:time|level)=/.test(prefix.body)) this.#pending = { prefix, body: prefix.body, no, lines: 1, indent: raw.length - raw.trimStart().length }
    else out.push(...this.#event(prefix, prefix.body, no))
    return out
  }

  /** The log ended: a line still waiting for its closing quote was cut. */
  end(): ServerEvent[] {
    return this.#flush()
  }

  #flush(): ServerEvent[] {
    const p = this.#pending
    this.#pending = undefined
    if (!p) return []
    return this.#event(p.prefix, p.body, p.no)
  }

  #event(prefix: Stripped, text: string, no: number): ServerEvent[] {
    let body = text
    let clock = prefix.clock
    const go = GO_LOG_RE.exec(body)
    if (go) {
      clock ??= go[1]
      body = body.slice(go[0].length)
    }
    let read: EventBody | Unreadable | undefined
    let ms = prefix.ms
    if (body.includes('msg=')) {
      const fields = logfmt(body)
      if (!fields) read = /msg="?(?:system memory|gpu memory|offload|model weights|kv cache|compute graph|total memory|llama-server model|peak memory)/.test(body) ? new Unreadable('a memory line cut before its quoted value closed') : undefined
      else {
        read = ollamaLine(fields) ?? otherLine(fields.get('msg') ?? '')
        const t = fields.get('time')
        if (t !== undefined && !Number.isNaN(parseTs(t))) ms = parseTs(t)
      }
    } else read = otherLine(body)
    if (read === undefined) return []
    if (read instanceof Unreadable) {
      this.#problems.add(this.#file, no, 'bad-value', `server log: ${read.why}; skipped`)
      return []
    }
    const e: ServerEvent = { record: 'server-event', line: no, kind: read.kind }
    if (ms !== undefined) e.ts = ms % 1000 ? new Date(ms).toISOString() : formatTs(ms)
    else if (clock !== undefined) e.clock = clock
    if (prefix.uptimeS !== undefined) e.uptimeS = prefix.uptimeS
    Object.assign(e, read)
    if (e.figures && Object.keys(e.figures).length === 0) delete e.figures
    return [e]
  }
}
