import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, readSync, statSync } from 'node:fs'
import { FileRefused, openRegular } from '../core/bounded-file.js'
import { StringDecoder } from 'node:string_decoder'
import type { Logger } from 'pino'
import { ProblemLog } from '../core/parse/problems.js'
import { ServerLogParser } from '../core/parse/server-log.js'
import type { ServerEvent } from '../schemas/index.js'
import { describeOrigin, type LogOrigin } from './log-origin.js'
import { settingsOnly, startLines, withoutCommandLine } from './server-log-start.js'
import { MAY_TELL, MAY_TELL_ALL } from './server-log-words.js'
import { AppendFile } from './sink.js'

/** Lines of each class kept a minute at most: a debug log or a loop of errors must not fill the disk. */
export const MAX_LINES_A_MINUTE = 600
/** Decisions and runners' lives have a budget of their own: a flood of figures never crowds them out. */
const DECISIONS = new Set(['eviction', 'fits', 'retry', 'oom', 'load-failed', 'runner-starting', 'runner-started', 'runner-stopped', 'kernel-oom-kill', 'server-config', 'version'])
/** Most bytes of lines read from the log at one poll; past it, the rest waits for the next. */
const MAX_READ = 1 << 20
/** A line longer than this is no memory line: read past. */
const MAX_LINE = 16 * 1024
/** Most bytes looked through at one poll for the end of a line too long to keep (a 100 MB line is passed in two polls). */
const MAX_SKIP = 64 << 20
/** Bytes read at a time: all a line read past ever holds in memory. */
const READ_CHUNK = 64 * 1024
/** How often a file is read when the caller does not read it at its own tick. */
export const POLL_MS = 1000
/** How long a command is given to end after SIGTERM at the stop, before SIGKILL. */
const KILL_GRACE_MS = 500

/** One stream of the log's text: the start of a line not ended yet, or a line too long to keep being read past. */
interface Stream {
  tail: string
  skipping: boolean
}

/**
 * Follows the server's log and keeps, in a third trace file, only the lines
 * that say why memory moved (the lines `memtrace parse --server-log` reads):
 * never a prompt or a request body, never a command line (a runner's start
 * keeps its model blob, port, context, batch and slots). At most
 * MAX_LINES_A_MINUTE lines a minute are kept; what is dropped is said in the
 * file. A file is read from its end at the start, and reopened from its
 * start when it is rotated (the macOS app renames it to server-1.log) or
 * removed and made again. A line longer than MAX_LINE is read past to its
 * end, never held. A command's stdout and stderr are both read (`docker
 * logs` writes the container's stderr, where Ollama logs, to its stderr).
 */
export class ServerLogFollower {
  readonly #origin: LogOrigin
  readonly #outPath: string
  readonly #log: Logger
  readonly #onError: (message: string, stoppedCleanly?: boolean) => void
  readonly #now: () => number
  readonly #parser = new ServerLogParser('server log', new ProblemLog())
  /** The line being read, and the moment it was read: each is read on its own. */
  #current = { text: '', at: 0 }
  #out: AppendFile | undefined
  /** What the lines read at once keep, written with one append. */
  #toWrite = ''
  #no = 0
  /** The file's stream, or a command's stdout and stderr. */
  readonly #streams: [Stream, Stream] = [{ tail: '', skipping: false }, { tail: '', skipping: false }]
  #decoder = new StringDecoder('utf8')
  /** The one buffer a file is read into. */
  #buf: Buffer | undefined
  #fd: number | undefined
  #ino = 0
  #offset = 0
  #timer: NodeJS.Timeout | undefined
  /** A file is followed: start() has run and stop() has not. */
  #following = false
  #child: ChildProcess | undefined
  #childGone: Promise<void> = Promise.resolve()
  #windowStart = 0
  /** Lines kept in this minute: figures, decisions. */
  readonly #keptInWindow = [0, 0]
  #dropped = 0
  #stopped = false
  #stopping: Promise<void> = Promise.resolve()
  /** The output file is closed: text arriving later is not read. */
  #closed = false
  #saidEnded = false
  /** Lines kept since the start, for `status`. */
  kept = 0
  /** Told of each event read, kept or dropped over the limit (the metrics count evictions). */
  onEvent: ((e: ServerEvent) => void) | undefined

  /** `onError` is told of a log that cannot be read, and of a command that ended (`stoppedCleanly`: with status 0, as `docker logs -f` when its container stops). */
  constructor(origin: LogOrigin, outPath: string, log: Logger, onError: (message: string, stoppedCleanly?: boolean) => void, now: () => number = Date.now) {
    this.#origin = origin
    this.#outPath = outPath
    this.#log = log
    this.#onError = onError
    this.#now = now
  }

  /** Starts following; a log that cannot be read is said once (`onError`) and the daemon goes on. A file is read every `pollMs`, or with `'by-caller'` at each poll() (the daemon's tick: no wake-up of its own). */
  start(pollMs: number | 'by-caller' = POLL_MS): void {
    this.#windowStart = this.#now()
    if ('file' in this.#origin) {
      const opened = this.#openFile(true)
      if (opened !== true) this.#onError(opened ? `the server log ${opened}; give a log file with memtrace start --server-log PATH` : `the server log ${this.#origin.file} cannot be read; give its place with memtrace start --server-log PATH`)
      else {
        // What a server started before the daemon said then: its settings and its version.
        for (const line of startLines(this.#origin.file)) this.#line(line, this.#now())
        this.#flushOut()
      }
      this.#following = true
      if (pollMs === 'by-caller') return
      this.#timer = setInterval(() => this.poll(), pollMs)
      this.#timer.unref()
      return
    }
    const { command, shell } = this.#origin
    // A process group of its own: at the stop the command and all it started
    // (a shell's children) are ended together, and a Ctrl-C to a foreground
    // daemon's terminal reaches the daemon, which ends it, not the command.
    const child = spawn(shell ? '/bin/sh' : (command[0] as string), shell ? ['-c', command.join(' ')] : command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.#child = child
    this.#childGone = new Promise<void>(gone => {
      child.once('exit', () => gone())
      child.once('error', () => gone())
    })
    for (const [i, out] of [child.stdout, child.stderr].entries()) {
      out?.setEncoding('utf8')
      out?.on('data', (chunk: string) => this.#take(chunk, this.#streams[i] as Stream, this.#now()))
    }
    child.once('error', e => this.#ended(`cannot run: ${e.message}`))
    child.once('exit', (code, signal) => {
      this.#child = undefined
      this.#ended(`ended (${signal ?? `exit status ${code}`}); the server's log is no longer followed`, code === 0)
    })
  }

  /** A command that could not run or ended: said once. */
  #ended(why: string, cleanly = false): void {
    if (this.#stopped || this.#saidEnded) return
    this.#saidEnded = true
    this.#onError(`the server log command ${describeOrigin(this.#origin)} ${why}`, cleanly)
  }

  /**
   * Reads what the file gained since the last poll. Only a file that did not
   * grow is looked for by name (rotated, removed, truncated): a log being
   * written costs one read a second.
   */
  poll(): void {
    if (!('file' in this.#origin) || !this.#following) return
    try {
      if (this.#fd !== undefined && this.#read()) return this.#flushOut()
    } catch {
      // The name is looked at below.
    }
    let st
    try {
      st = statSync(this.#origin.file)
    } catch {
      // Removed (or between a rotation's rename and the new file): what the
      // old file still holds is read, and the name is looked for at each poll.
      if (this.#fd !== undefined) {
        this.#drain()
        this.#closeFile()
        this.#log.warn({ file: this.#origin.file }, 'the server log is gone; a new file under its name is read from its start')
      }
      return
    }
    try {
      // Rotated (a new file under the name) or truncated: read the new one from its start.
      if (this.#fd === undefined || st.ino !== this.#ino || st.size < this.#offset) {
        this.#drain()
        if (this.#openFile(false) === true) this.#read()
      }
    } catch {
      // Gone between the stat and the read: the next poll sees it.
    }
    this.#flushOut()
  }

  /**
   * Reads what the open file gained, READ_CHUNK bytes at a time: at most
   * MAX_READ bytes of lines, and up to MAX_SKIP bytes more inside a line too
   * long to keep, looked through for its end without being decoded or held.
   * True when there was anything to read.
   */
  #read(): boolean {
    const fd = this.#fd as number
    const s = this.#streams[0]
    const buf = (this.#buf ??= Buffer.allocUnsafe(READ_CHUNK))
    let budget = MAX_READ
    let skip = MAX_SKIP
    let grew = false
    for (;;) {
      const want = Math.min(buf.length, s.skipping ? skip : budget)
      if (want <= 0) return grew
      const n = readSync(fd, buf, 0, want, this.#offset)
      if (n <= 0) return grew
      grew = true
      if (s.skipping) {
        const nl = buf.subarray(0, n).indexOf(10)
        const used = nl < 0 ? n : nl + 1
        this.#offset += used
        skip -= used
        if (nl >= 0) this.#readPast(s, this.#now())
        // A short read is the end of what the file holds now: no second read to hear it.
        if (n < want && nl < 0) return grew
        continue
      }
      this.#offset += n
      budget -= n
      this.#take(this.#decoder.write(buf.subarray(0, n)), s, this.#now())
      if (n < want) return grew
    }
  }

  /** Opens the log, a regular file only and without blocking (a FIFO would hold the daemon): true, or why not ('' if unknown). */
  #openFile(atEnd: boolean): true | string {
    const file = (this.#origin as { file: string }).file
    try {
      const { fd, size, ino } = openRegular(file)
      this.#closeFile()
      this.#fd = fd
      this.#ino = ino
      this.#offset = atEnd ? size : 0
      this.#resetFileStream()
      return true
    } catch (e) {
      return e instanceof FileRefused ? e.message.replace(/; memtrace does not read it$/, '') : ''
    }
  }

  #closeFile(): void {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
    this.#ino = 0
  }

  #resetFileStream(): void {
    this.#streams[0].tail = ''
    this.#streams[0].skipping = false
    this.#decoder = new StringDecoder('utf8')
  }

  /** The rest of a rotated or removed file, read before the new one is opened. */
  #drain(): void {
    if (this.#fd === undefined) return
    try {
      this.#read()
    } catch {
      // gone
    }
    this.#lastLine(this.#streams[0], this.#now())
    this.#flushOut()
    this.#resetFileStream()
  }

  /** Text as it came: whole lines are read, the start of the next is held (never past MAX_LINE). */
  #take(text: string, s: Stream, at: number): void {
    if (this.#closed) return
    let from = 0
    if (s.skipping) {
      const nl = text.indexOf('\n')
      if (nl < 0) return
      this.#readPast(s, at)
      from = nl + 1
    }
    const all = s.tail ? s.tail + text.slice(from) : from ? text.slice(from) : text
    const end = all.lastIndexOf('\n')
    // Only a line that holds a word of MAY_TELL is looked at: the rest, most of a busy log, is passed over in one scan, never cut into lines.
    const words = MAY_TELL_ALL
    words.lastIndex = 0
    for (let m = end >= 0 ? words.exec(all) : null; m && m.index < end; m = words.exec(all)) {
      const stop = all.indexOf('\n', m.index)
      this.#line(all.slice(all.lastIndexOf('\n', m.index) + 1, stop), at)
      words.lastIndex = stop + 1
    }
    s.tail = all.slice(end + 1)
    this.#flushOut()
    // A line with no end in sight is no memory line: read past to its end, never held.
    if (s.tail.length > MAX_LINE) {
      s.tail = ''
      s.skipping = true
    }
  }

  /** The end of a line too long to keep: it counts as a line, and nothing of it is read. */
  #readPast(s: Stream, at: number): void {
    s.skipping = false
    if (s === this.#streams[0]) this.#decoder = new StringDecoder('utf8')
    this.#line(undefined, at)
  }

  /**
   * A whole line (undefined: one too long to keep), read on its own: a live
   * log is never wrapped, so a structured line does not wait for the next.
   */
  #line(text: string | undefined, at: number): void {
    const no = ++this.#no
    const long = text === undefined || text.length > MAX_LINE
    this.#current = { text: long ? '' : text, at }
    if (!long) for (const e of this.#parser.line(text, no)) this.#keep(e)
    for (const e of this.#parser.end()) this.#keep(e)
  }

  /** The last line of a file or a command, which no newline ended. */
  #lastLine(s: Stream, at: number): void {
    if (s.tail && !s.skipping && MAY_TELL.test(s.tail)) this.#line(s.tail, at)
    s.tail = ''
  }

  #keep(e: ServerEvent): void {
    this.onEvent?.(e)
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
    let text = this.#current.text
    if (e.kind === 'runner-starting') text = withoutCommandLine(text, e)
    // Never the rest of the server's environment (paths, proxies, origins).
    if (e.kind === 'server-config') text = settingsOnly(text, e)
    // A line with no time of its own (llama.cpp's) gets the moment it was read, as `docker logs --timestamps` writes it.
    if (e.ts === undefined && e.clock === undefined) text = `${new Date(this.#current.at).toISOString()} ${text.trimStart()}`
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
    this.#toWrite += text
  }

  #flushOut(): void {
    if (!this.#toWrite) return
    this.#out ??= new AppendFile(this.#outPath)
    if (!this.#out.write(this.#toWrite) && this.#out.lastError) this.#log.warn({ err: this.#out.lastError }, 'server log not written')
    this.#toWrite = ''
  }

  /**
   * Stops following: what was read is written and the file closed. A
   * command, and all it started, is sent SIGTERM, and SIGKILL after
   * KILL_GRACE_MS (one that never prints and ignores SIGTERM must not hold
   * up the daemon's exit); resolves when it is gone.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopping
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.poll()
    this.#following = false
    const now = this.#now()
    for (const s of this.#streams) this.#lastLine(s, now)
    this.#sayDropped()
    this.#flushOut()
    this.#closeFile()
    this.#out?.close()
    this.#closed = true
    this.#stopping = this.#endCommand()
    return this.#stopping
  }

  async #endCommand(): Promise<void> {
    const child = this.#child
    const pid = child?.pid
    if (!child || pid === undefined) return
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-pid, signal)
      } catch {
        // gone
      }
    }
    group('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>(r => (timer = setTimeout(r, KILL_GRACE_MS)))
    await Promise.race([this.#childGone, grace])
    clearTimeout(timer)
    // Whatever of the group is left (the command itself, or a child that ignores SIGTERM).
    group('SIGKILL')
    await Promise.race([this.#childGone, new Promise(r => setTimeout(r, 100))])
    child.stdout?.destroy()
    child.stderr?.destroy()
  }
}
