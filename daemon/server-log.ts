import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { ProblemLog } from '../core/parse/problems.js'
import { ServerLogParser } from '../core/parse/server-log.js'
import type { ServerEvent } from '../schemas/index.js'
import { AppendFile } from './sink.js'

/** Where the server's log comes from: a file followed by name, or a command's output (`journalctl -f`, `docker logs -f`). */
export type LogOrigin = { file: string } | { command: string[]; shell?: boolean }

/** Lines of each class kept a minute at most: a debug log or a loop of errors must not fill the disk. */
export const MAX_LINES_A_MINUTE = 600
/** Decisions and runners' lives have a budget of their own: a flood of figures never crowds them out. */
const DECISIONS = new Set(['eviction', 'fits', 'retry', 'oom', 'load-failed', 'runner-starting', 'runner-started', 'runner-stopped', 'kernel-oom-kill', 'server-config', 'version'])
/** Most bytes read from the log at one poll; past it, the rest waits for the next. */
const MAX_READ = 1 << 20
/** A line longer than this is no memory line: read past. */
const MAX_LINE = 16 * 1024
/** Lines remembered to write a record wrapped over several. */
const RECENT = 16

/**
 * The server's log on this machine, found by itself: the macOS app's
 * `~/.ollama/logs/server.log`, Homebrew's `var/log/ollama.log`, or the
 * systemd unit's journal. Undefined where none is found.
 */
export function findServerLog(platform: 'linux' | 'darwin', home = homedir(), exists: (p: string) => boolean = existsSync): LogOrigin | undefined {
  if (platform === 'darwin') {
    for (const file of [join(home, '.ollama', 'logs', 'server.log'), '/opt/homebrew/var/log/ollama.log', '/usr/local/var/log/ollama.log']) if (exists(file)) return { file }
    return undefined
  }
  const unit = ['/etc/systemd/system/ollama.service', '/lib/systemd/system/ollama.service', '/usr/lib/systemd/system/ollama.service'].some(exists)
  if (unit && ['/usr/bin/journalctl', '/bin/journalctl'].some(exists)) return { command: ['journalctl', '-u', 'ollama', '-f', '-n', '0', '-o', 'short-iso', '--no-pager'] }
  return undefined
}

/** What an origin is, for a message. */
export function describeOrigin(o: LogOrigin): string {
  return 'file' in o ? o.file : o.command.join(' ')
}

/**
 * Follows the server's log and keeps, in a third trace file, only the lines
 * that say why memory moved (the lines `memtrace parse --server-log` reads):
 * never a prompt or a request body, never a command line (a runner's start
 * keeps its model blob, port, context, batch and slots). At most
 * MAX_LINES_A_MINUTE lines a minute are kept; what is dropped is said in the
 * file. A file is read from its end at the start, and reopened from its
 * start when it is rotated (the macOS app renames it to server-1.log).
 */
export class ServerLogFollower {
  readonly #origin: LogOrigin
  readonly #outPath: string
  readonly #log: Logger
  readonly #onError: (message: string) => void
  readonly #now: () => number
  readonly #parser = new ServerLogParser('server log', new ProblemLog())
  readonly #recent = new Map<number, string>()
  #out: AppendFile | undefined
  #no = 0
  #tail = ''
  #fd: number | undefined
  #ino = 0
  #offset = 0
  #timer: NodeJS.Timeout | undefined
  #child: ChildProcess | undefined
  #windowStart = 0
  /** Lines kept in this minute: figures, decisions. */
  readonly #keptInWindow = [0, 0]
  #dropped = 0
  #stopped = false
  /** Lines kept since the start, for `status`. */
  kept = 0

  constructor(origin: LogOrigin, outPath: string, log: Logger, onError: (message: string) => void, now: () => number = Date.now) {
    this.#origin = origin
    this.#outPath = outPath
    this.#log = log
    this.#onError = onError
    this.#now = now
  }

  get outPath(): string {
    return this.#outPath
  }

  /** Starts following; a log that cannot be read is said once (`onError`) and the daemon goes on. */
  start(pollMs = 1000): void {
    this.#windowStart = this.#now()
    if ('file' in this.#origin) {
      if (!this.#openFile(true)) this.#onError(`the server log ${this.#origin.file} cannot be read; give its place with memtrace start --server-log PATH`)
      this.#timer = setInterval(() => this.poll(), pollMs)
      this.#timer.unref()
      return
    }
    const [cmd, ...args] = this.#origin.command
    const child = spawn(this.#origin.shell ? '/bin/sh' : (cmd as string), this.#origin.shell ? ['-c', this.#origin.command.join(' ')] : args, { stdio: ['ignore', 'pipe', 'ignore'] })
    this.#child = child
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => this.#take(chunk))
    child.once('error', e => this.#onError(`the server log command ${describeOrigin(this.#origin)} cannot run: ${e.message}`))
    child.once('exit', (code, signal) => {
      this.#child = undefined
      if (this.#stopped) return
      this.#onError(`the server log command ${describeOrigin(this.#origin)} ended (${signal ?? `exit status ${code}`}); the server's log is no longer followed`)
    })
  }

  /** Reads what the file gained since the last poll (at most MAX_READ bytes). */
  poll(): void {
    if (!('file' in this.#origin)) return
    try {
      const st = statSync(this.#origin.file)
      // Rotated (a new file under the name) or truncated: read the new one from its start.
      if (this.#fd === undefined || st.ino !== this.#ino || st.size < this.#offset) {
        this.#drain()
        if (!this.#openFile(false)) return
      }
      const fd = this.#fd as number
      const size = fstatSync(fd).size
      if (size <= this.#offset) return
      const buf = Buffer.allocUnsafe(Math.min(MAX_READ, size - this.#offset))
      const n = readSync(fd, buf, 0, buf.length, this.#offset)
      this.#offset += n
      this.#take(buf.subarray(0, n).toString('utf8'))
    } catch {
      // Between a rotation's rename and the new file: the next poll finds it.
    }
  }

  #openFile(atEnd: boolean): boolean {
    const file = (this.#origin as { file: string }).file
    try {
      const fd = openSync(file, 'r')
      const st = fstatSync(fd)
      if (!st.isFile()) {
        closeSync(fd)
        return false
      }
      if (this.#fd !== undefined) closeSync(this.#fd)
      this.#fd = fd
      this.#ino = st.ino
      this.#offset = atEnd ? st.size : 0
      this.#tail = ''
      return true
    } catch {
      return false
    }
  }

  /** The rest of a rotated file, read before the new one is opened. */
  #drain(): void {
    if (this.#fd === undefined) return
    try {
      const size = fstatSync(this.#fd).size
      if (size > this.#offset) {
        const buf = Buffer.allocUnsafe(Math.min(MAX_READ, size - this.#offset))
        const n = readSync(this.#fd, buf, 0, buf.length, this.#offset)
        this.#take(buf.subarray(0, n).toString('utf8'))
      }
    } catch {
      // gone
    }
    if (this.#tail) this.#line(this.#tail)
    this.#tail = ''
  }

  #take(text: string): void {
    let start = 0
    const all = this.#tail + text
    let nl = all.indexOf('\n')
    while (nl >= 0) {
      this.#line(all.slice(start, nl))
      start = nl + 1
      nl = all.indexOf('\n', start)
    }
    this.#tail = all.slice(start)
    // A line with no end in sight is no memory line: dropped, never held.
    if (this.#tail.length > MAX_LINE) this.#tail = ''
  }

  #line(text: string): void {
    const no = ++this.#no
    const line = text.length > MAX_LINE ? '' : text
    this.#recent.set(no, line)
    this.#recent.delete(no - RECENT)
    for (const e of this.#parser.line(line, no)) this.#keep(e)
  }

  #keep(e: ServerEvent): void {
    const now = this.#now()
    if (now - this.#windowStart >= 60_000) {
      this.#sayDropped()
      this.#windowStart = now
      this.#keptInWindow.fill(0)
    }
    const cls = DECISIONS.has(e.kind) ? 1 : 0
    if ((this.#keptInWindow[cls] as number) >= MAX_LINES_A_MINUTE) {
      this.#dropped++
      return
    }
    this.#keptInWindow[cls]!++
    let text = ''
    for (let n = e.line; n <= (e.lastLine ?? e.line); n++) text += this.#recent.get(n) ?? ''
    if (e.kind === 'runner-starting') text = withoutCommandLine(text, e)
    this.#write(`${text}\n`)
    this.kept++
  }

  #sayDropped(): void {
    if (this.#dropped === 0) return
    this.#write(`memtrace dropped ${JSON.stringify({ ts: new Date(this.#now()).toISOString(), lines: this.#dropped, reason: `more than ${MAX_LINES_A_MINUTE} server-log lines of a kind a minute` })}\n`)
    this.#log.warn({ lines: this.#dropped }, 'server log lines dropped: more than the limit a minute')
    this.#dropped = 0
  }

  #write(text: string): void {
    this.#out ??= new AppendFile(this.#outPath)
    if (!this.#out.write(text) && this.#out.lastError) this.#log.warn({ err: this.#out.lastError }, 'server log not written')
  }

  /** Stops following; what was read is written, the file closed. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.poll()
    if (this.#tail) this.#line(this.#tail)
    for (const e of this.#parser.end()) this.#keep(e)
    this.#sayDropped()
    this.#child?.kill('SIGTERM')
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
    this.#out?.close()
  }
}

/** A runner's start without its command line: only what memtrace reads from it, spelled as llama-server's flags. */
function withoutCommandLine(text: string, e: ServerEvent): string {
  const f = e.figures ?? {}
  const kept = [e.model && `--model ${e.model}`, e.port !== undefined && `--port ${e.port}`, f.numCtx !== undefined && `-c ${f.numCtx}`, f.numBatch !== undefined && `-b ${f.numBatch}`, f.parallel !== undefined && `-np ${f.parallel}`].filter(Boolean).join(' ')
  return text.replace(/\bcmd="(?:[^"\\]|\\.)*"/, `cmd="${kept}"`)
}
