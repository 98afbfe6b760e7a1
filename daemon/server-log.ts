import { closeSync, readSync, statSync } from 'node:fs'
import { FileRefused, openRegular } from '../core/bounded-file.js'
import { StringDecoder } from 'node:string_decoder'
import type { Logger } from 'pino'
import { ProblemLog } from '../core/parse/problems.js'
import { ServerLogParser } from '../core/parse/server-log.js'
import type { ServerEvent } from '../schemas/index.js'
import { describeOrigin, type LogOrigin } from './log-origin.js'
import { endCommand, type LogCommand, startCommand } from './server-log-command.js'
import { settingsOnly, startLines, withoutCommandLine } from './server-log-start.js'
import { MAX_LINES_A_MINUTE, MinuteCap } from './server-log-cap.js'
import { anchoredLines } from './server-log-scan.js'
import { warmParser } from './server-log-warm.js'
import { MAY_TELL, MAY_TELL_ALL } from './server-log-words.js'
import { AppendFile } from './sink.js'

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
 * end, never held. A command's stdout and stderr are both read (startCommand).
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
  /** The start of the file's line not ended yet, as read (a copy): decoded only when the line is whole. */
  #pending: Buffer | undefined
  /** The offsets of the lines of a read that hold an anchor (anchoredLines). */
  readonly #anchored: number[] = []
  /** The one buffer a file is read into. */
  #buf: Buffer | undefined
  #fd: number | undefined
  #ino = 0
  #offset = 0
  #timer: NodeJS.Timeout | undefined
  /** A file is followed: start() has run and stop() has not. */
  #following = false
  /** The command followed, until it exits. */
  #command: LogCommand | undefined
  /** Lines kept and dropped in the minute under way. */
  #cap = new MinuteCap(0)
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
    this.#cap = new MinuteCap(this.#now())
    warmParser()
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
    const command = startCommand(this.#origin.command, this.#origin.shell === true, (i, text) => this.#take(text, this.#streams[i], this.#now()))
    this.#command = command
    const { child } = command
    child.once('error', e => this.#ended(`cannot run: ${e.message}`))
    child.once('exit', (code, signal) => {
      this.#command = undefined
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
      this.#takeBytes(buf, n, s, this.#now())
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
    this.#pending = undefined
  }

  /** The rest of a rotated or removed file, read before the new one is opened. */
  #drain(): void {
    if (this.#fd === undefined) return
    try {
      this.#read()
    } catch {
      // gone
    }
    this.#pendingAsTail()
    this.#lastLine(this.#streams[0], this.#now())
    this.#flushOut()
    this.#resetFileStream()
  }

  /**
   * `buf[0, n)`, read from the file: only the lines that hold an anchor of
   * MAY_TELL's words are decoded and tested (anchoredLines); the rest, most
   * of a busy log, are passed over as bytes. A line not ended yet is held
   * as bytes (#hold) and decoded whole once its end is read: the text
   * looked at is what a decoder fed the reads in turn gives.
   */
  #takeBytes(buf: Buffer, n: number, s: Stream, at: number): void {
    if (this.#closed) return
    let from = 0
    const pending = this.#pending
    if (pending) {
      const nl = buf.subarray(0, n).indexOf(10)
      if (nl < 0) return this.#hold(Buffer.concat([pending, buf.subarray(0, n)]), s)
      this.#pending = undefined
      const text = Buffer.concat([pending, buf.subarray(0, nl)]).toString('utf8')
      if (MAY_TELL.test(text)) this.#line(text, at)
      from = nl + 1
    }
    const found = this.#anchored
    const last = anchoredLines(buf, from, n, found)
    for (let i = 0; i < found.length; i += 2) {
      const text = buf.toString('utf8', found[i], found[i + 1])
      if (MAY_TELL.test(text)) this.#line(text, at)
    }
    // A copy: the buffer is read into again.
    if (last < n - 1) this.#hold(Buffer.from(buf.subarray(last + 1, n)), s)
    this.#flushOut()
  }

  /** The start of a line not ended yet; past MAX_LINE characters it is read past to its end, never held. */
  #hold(bytes: Buffer, s: Stream): void {
    this.#pending = bytes
    // Characters are counted only where the bytes could make more than MAX_LINE; a character cut at the end is not one yet.
    if (bytes.length > MAX_LINE && new StringDecoder('utf8').write(bytes).length > MAX_LINE) {
      this.#pending = undefined
      s.skipping = true
    }
  }

  /** The file's line not ended, as the text #lastLine reads (a character cut at its end is not one). */
  #pendingAsTail(): void {
    if (!this.#pending) return
    this.#streams[0].tail = new StringDecoder('utf8').write(this.#pending)
    this.#pending = undefined
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
    if (!this.#cap.admits(e.kind, this.#now(), () => this.#sayDropped())) return
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
    const lines = this.#cap.dropped
    if (lines === 0) return
    this.#write(`memtrace dropped ${JSON.stringify({ ts: new Date(this.#now()).toISOString(), lines, reason: `more than ${MAX_LINES_A_MINUTE} server-log lines of a kind a minute` })}\n`)
    this.#log.warn({ lines }, 'server log lines dropped: more than the limit a minute')
    this.#cap.dropped = 0
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
   * command, and all it started, is ended (endCommand); resolves when it is
   * gone.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopping
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.poll()
    this.#following = false
    const now = this.#now()
    this.#pendingAsTail()
    for (const s of this.#streams) this.#lastLine(s, now)
    this.#sayDropped()
    this.#flushOut()
    this.#closeFile()
    this.#out?.close()
    this.#closed = true
    this.#stopping = this.#command ? endCommand(this.#command) : Promise.resolve()
    return this.#stopping
  }
}
