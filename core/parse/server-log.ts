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
import { startsRecord, stripPrefix, type Stripped } from './server-log/prefix.js'
import { formatTs, parseTs } from './time.js'

/** No line memtrace reads is longer: past it (a prompt in a debug log) nothing is tried. */
const MAX_LINE = 16 * 1024
/** A quoted value wrapped by a terminal continues on at most this many lines. */
const MAX_WRAPPED = 8
const GO_LINE_RE = /^[\w.]+\.go:\d+: (?:(?:INFO|WARN|ERROR|DEBUG) )?(.*)$/

/** `server config env="map[…]"` → `msg="server config" env="map[…]"`: the words before the first key are the message. */
function goAsStructured(text: string): string {
  const key = /\s[\w.]+=/.exec(text)
  if (!key) return `msg=${JSON.stringify(text)}`
  return `msg=${JSON.stringify(text.slice(0, key.index))}${text.slice(key.index)}`
}

/**
 * Whether `raw` goes on the structured line before it, cut by a terminal's
 * width: never a line of its own (a time, a prefix, a message, a
 * llama.cpp `func: …` line, a blank); inside an open quote always; else
 * only a piece of `key=value` text, or one word (the end of a value), never
 * a sentence someone wrote between the lines.
 */
function continues(body: string, raw: string): boolean {
  const t = raw.trim()
  // A chat app may break a quoted value across a blank line.
  if (t === '') return opensQuote(body)
  if (startsRecord(stripPrefix(raw))) return false
  if (opensQuote(body) || body.endsWith('=')) return true
  // A sentence that quotes a log line of its own is no continuation of the one before.
  if (body.includes('msg=') && t.includes('msg=')) return false
  if (/^[\w.]+: /.test(t)) return false
  // One word ends a value; a fence, a tag or punctuation starts the paste's own text.
  return /^[\w.]*=|\s[\w.]+=/.test(t) || (!/\s/.test(t) && /^[\w".\]\[-]/.test(t) && !t.startsWith('```'))
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
        // A blank line (a chat app's break) stood for a space.
        p.body += raw.trim() === '' ? ' ' : raw.slice(Math.min(p.indent, raw.length - raw.trimStart().length))
        p.lines++
        return []
      }
      out.push(...this.#flush())
    }
    const prefix = stripPrefix(raw)
    // A structured line waits for the next: a terminal or a chat may have wrapped it.
    if (prefix.body.includes('msg=') || /^(?:time|level)=/.test(prefix.body) || GO_LINE_RE.test(prefix.body)) this.#pending = { prefix, body: prefix.body, no, lines: 1, indent: raw.length - raw.trimStart().length }
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
    return this.#event(p.prefix, p.body, p.no, p.no + p.lines - 1)
  }

  #event(prefix: Stripped, body: string, no: number, lastLine?: number): ServerEvent[] {
    let read: EventBody | Unreadable | undefined
    let ms = prefix.ms
    const go = GO_LINE_RE.exec(body)
    // Go's standard logger before 0.5.12 (`routes.go:1189: INFO server config env=…`): the words up to the first key are the message.
    const text = go ? goAsStructured(go[1] as string) : body
    if (text.includes('msg=')) {
      const pairs = logfmt(text)
      if (!pairs) read = /msg="?(?:system memory|gpu memory|offload|model weights|kv cache|compute graph|total memory|llama-server model|peak memory)/.test(text) ? new Unreadable('a memory line cut before its quoted value closed') : undefined
      else {
        read = ollamaLine(pairs.fields, pairs.cut) ?? otherLine(pairs.fields.get('msg') ?? '')
        const t = pairs.fields.get('time')
        if (t !== undefined && !Number.isNaN(parseTs(t))) ms = parseTs(t)
      }
    } else read = otherLine(go ? (go[1] as string) : body)
    if (read === undefined) return []
    if (read instanceof Unreadable) {
      this.#problems.add(this.#file, no, 'bad-value', `server log: ${read.why}; skipped`)
      return []
    }
    const e: ServerEvent = { record: 'server-event', line: no, kind: read.kind }
    if (lastLine !== undefined && lastLine > no) e.lastLine = lastLine
    if (ms !== undefined) e.ts = ms % 1000 ? new Date(ms).toISOString() : formatTs(ms)
    else if (prefix.clock !== undefined) e.clock = prefix.clock
    if (prefix.uptimeS !== undefined) e.uptimeS = prefix.uptimeS
    if (prefix.repeated !== undefined) e.repeated = prefix.repeated
    Object.assign(e, read)
    if (e.figures && Object.keys(e.figures).length === 0) delete e.figures
    return [e]
  }
}
