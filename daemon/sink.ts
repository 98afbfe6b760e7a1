import { closeSync, fstatSync, mkdirSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { assertHeld } from './dir-hold.js'
import { openAppend } from './safe-open.js'

/** Pending text a trace file keeps while writes fail (a full disk); beyond it, the oldest whole samples are dropped and counted. */
export const MAX_PENDING = 8 * 1024 * 1024

/** Log lines the daemon keeps while its log cannot be written; past it, the oldest are dropped. */
export const LOG_MAX_PENDING = 1024 * 1024

/** write(2) as the sink calls it; tests pass one that fails on demand. */
export type WriteFn = (fd: number, buf: Buffer, offset: number) => number

const realWrite: WriteFn = (fd, buf, offset) => writeSync(fd, buf, offset)

/** A hold-back limit as people read it: `8 MiB`. */
export function mib(bytes: number): string {
  return `${+(bytes / 1024 / 1024).toFixed(1)} MiB`
}

export interface AppendFileOptions {
  /** The first line(s) of a new file. */
  header?: string
  /** Most bytes held back while writes fail (default MAX_PENDING). */
  maxPendingBytes?: number
  write?: WriteFn
  /** An open descriptor (stderr) to write instead of the path: never created, reopened or closed. */
  fd?: number
}

/**
 * An append-only trace file. Every call writes whole rows or a whole block in
 * one write(2) on a file opened O_APPEND, so a crash leaves only complete
 * lines (or, at worst, one cut line, which the renderer reports). A file is
 * created readable by its owner only and is never truncated, nor opened
 * through a symbolic link (`openAppend`).
 *
 * A failed write keeps exactly the bytes not yet written, reopens the file
 * and tries again on the next call: after a full disk is freed, or the
 * directory comes back, writing goes on where it stopped, and a row cut by a
 * short write is completed, never written twice. While writes fail, up to
 * `maxPendingBytes` are held; past that the oldest whole samples are dropped
 * (never the rest of a sample already begun on disk) and counted.
 */
export class AppendFile {
  readonly path: string
  readonly #header: string | undefined
  /** Most bytes held back while writes fail. */
  readonly maxPendingBytes: number
  readonly #write: WriteFn
  readonly #fixedFd: boolean
  #fd: number | undefined
  /** One chunk per write() call: the rows of one sample, a block, a log line. */
  #chunks: Buffer[] = []
  /** Bytes of the first chunk already on disk (a short write). */
  #headOffset = 0
  #pendingBytes = 0
  #closed = false
  droppedBytes = 0
  droppedSamples = 0
  bytesWritten = 0
  /** The error of the last failed write; undefined once a write succeeds. */
  lastError: string | undefined
  /** When writes started failing (ms since the epoch); undefined while they succeed. */
  failingSinceMs: number | undefined

  constructor(path: string, o: AppendFileOptions = {}) {
    this.path = path
    this.#header = o.header
    this.maxPendingBytes = o.maxPendingBytes ?? MAX_PENDING
    this.#write = o.write ?? realWrite
    this.#fixedFd = o.fd !== undefined
    if (o.fd === undefined) assertHeld(path)
    this.#fd = o.fd ?? openAppend(path)
    if (o.header !== undefined) this.write(o.header)
  }

  /** Appends text (whole lines); false if it is held back for a later retry. */
  write(text: string): boolean {
    if (this.#closed) return false
    const buf = Buffer.from(text)
    this.#chunks.push(buf)
    this.#pendingBytes += buf.length
    this.#dropOldest()
    return this.flush()
  }

  /** Past the limit, whole chunks go, oldest first; a chunk partly on disk stays, or its row would be cut. */
  #dropOldest(): void {
    const first = this.#headOffset > 0 ? 1 : 0
    while (this.#pendingBytes > this.maxPendingBytes && this.#chunks.length > first + 1) {
      const [gone] = this.#chunks.splice(first, 1) as [Buffer]
      this.#pendingBytes -= gone.length
      this.droppedBytes += gone.length
      this.droppedSamples++
    }
  }

  /** Writes what is pending; reopens the file first if the last write failed. */
  flush(): boolean {
    if (this.#chunks.length === 0) return true
    try {
      if (this.#fd === undefined) {
        // In a held trace directory that was removed or replaced, nothing is made again here: only through the daemon's checks.
        assertHeld(this.path)
        mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
        this.#fd = openAppend(this.path)
      }
      while (this.#chunks.length > 0) {
        const buf = this.#chunks[0] as Buffer
        // A short write is not an error: the rest goes in the next write(2).
        while (this.#headOffset < buf.length) {
          const n = this.#write(this.#fd, buf, this.#headOffset)
          if (!(n > 0)) throw new Error(`write(2) wrote ${n} bytes`)
          this.#headOffset += n
          this.#pendingBytes -= n
          this.bytesWritten += n
        }
        this.#chunks.shift()
        this.#headOffset = 0
      }
      this.lastError = undefined
      this.failingSinceMs = undefined
      return true
    } catch (e) {
      // Node's messages already begin with the code (`ENOSPC: no space left on device, write`).
      const { code, message } = e as NodeJS.ErrnoException
      this.lastError = code && !message.startsWith(code) ? `${code} ${message}` : message
      this.failingSinceMs ??= Date.now()
      this.#closeFd()
      return false
    }
  }

  get pendingBytes(): number {
    return this.#pendingBytes
  }

  /**
   * Closes and opens again at the same path (after log rotation: SIGHUP). A
   * new, empty file gets the header again, so it reads on its own.
   */
  reopen(): void {
    if (this.#closed || this.#fixedFd) return
    this.flush()
    this.#closeFd()
    try {
      assertHeld(this.path)
      this.#fd = openAppend(this.path)
      if (this.#header !== undefined && fstatSync(this.#fd).size === 0) this.write(this.#header)
    } catch (e) {
      this.lastError = (e as Error).message
    }
  }

  /** Writes what it can and closes; returns the bytes that could not be written and are lost. */
  close(): number {
    this.flush()
    this.#closeFd()
    this.#closed = true
    const lost = this.#pendingBytes
    this.#chunks = []
    this.#pendingBytes = 0
    return lost
  }

  #closeFd(): void {
    if (this.#fd === undefined || this.#fixedFd) return
    try {
      closeSync(this.#fd)
    } catch {
      /* already gone */
    }
    this.#fd = undefined
  }
}

/**
 * The daemon's own log as pino's destination: DIR/memtrace.log (the caller
 * has made DIR with `ensureDir`), or stderr in
 * the foreground. It is written like the traces, so a full disk holds lines
 * back (up to LOG_MAX_PENDING) instead of throwing out of the logger.
 */
export function logDestination(dir: string | undefined): AppendFile {
  if (dir === undefined) return new AppendFile('stderr', { fd: 2, maxPendingBytes: LOG_MAX_PENDING })
  return new AppendFile(join(dir, 'memtrace.log'), { maxPendingBytes: LOG_MAX_PENDING })
}
