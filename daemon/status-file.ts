import { closeSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { assertHeld } from './dir-hold.js'
import { createFresh } from './safe-open.js'

/** How one output of the daemon is being written (see `AppendFile`). */
export interface WriteState {
  /** Bytes held back while writes fail; written first when they succeed again. */
  pendingBytes: number
  /** Bytes dropped since the start because more than the limit was held back. */
  droppedBytes: number
  /** The error of the failing writes; absent while they succeed. */
  error?: string
  /** When writes started failing (UTC, as in the traces). */
  failingSince?: string
}

/** What `memtrace status` reports, kept current by the daemon. */
export interface DaemonStatus {
  version: string
  pid: number
  running: boolean
  startedAt: string
  updatedAt: string
  /** How often the daemon rewrites this file (each system sample), ms: `status` calls it stale past a few of these. */
  systemIntervalMs: number
  dir: string
  procFile: string
  systemFile: string
  logFile: string
  processSamples: number
  processRows: number
  systemSamples: number
  lastProcessSample?: string
  lastSystemSample?: string
  missedTicks: { process: number; system: number }
  lateness: { p50Ms: number; p99Ms: number; maxMs: number }
  lastError?: { at: string; message: string }
  /** The process trace, the system trace and the daemon's log. */
  writes?: { process: WriteState; system: WriteState; log: WriteState }
  /** Where Prometheus scrapes this daemon (`--metrics`). */
  metricsUrl?: string
  /** The server's log: where it is followed from, the file its memory lines go to, and how many were kept. */
  serverLog?: { from: string; file: string; lines: number; problem?: string }
}

export const STATUS_NAME = 'memtrace.status.json'
const PAGE = 4096

/**
 * The status file. Each update is written to a new file and renamed over the
 * old one, so a reader never sees half of it. On a full disk no new file can
 * be written; the update then overwrites the current file in place, in space
 * it reserved when it was written (the text is padded with spaces to whole
 * pages, plus a spare one), so `status` still shows the disk is full.
 */
export class StatusFile {
  readonly #path: string
  /** The current status file, kept open for the in-place update. */
  #fd: number | undefined
  #size = 0

  constructor(dir: string) {
    this.#path = join(dir, STATUS_NAME)
  }

  /** Writes the status; returns why it could not, or undefined. */
  write(s: DaemonStatus): string | undefined {
    const text = `${JSON.stringify(s, null, 2)}\n`
    const tmp = `${this.#path}.tmp-${process.pid}`
    let fd: number | undefined
    try {
      const size = (Math.ceil(Buffer.byteLength(text) / PAGE) + 1) * PAGE
      // A new file of our own (never through a link); rename replaces a link at the status path itself.
      assertHeld(tmp)
      fd = createFresh(tmp)
      writeAll(fd, padded(text, size))
      renameSync(tmp, this.#path)
      this.#close()
      this.#fd = fd
      this.#size = size
      return undefined
    } catch (e) {
      if (fd !== undefined) closeQuietly(fd)
      try {
        unlinkSync(tmp)
      } catch {
        /* never created */
      }
      return this.#inPlace(text, e as Error)
    }
  }

  #inPlace(text: string, cause: Error): string {
    const why = `cannot write ${this.#path}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`
    if (this.#fd === undefined || Buffer.byteLength(text) >= this.#size) return why
    try {
      writeAll(this.#fd, padded(text, this.#size), 0)
      return `${why}; updated it in place`
    } catch (e) {
      return `${why}; nor in place: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`
    }
  }

  close(): void {
    this.#close()
  }

  #close(): void {
    if (this.#fd !== undefined) closeQuietly(this.#fd)
    this.#fd = undefined
  }
}

function padded(text: string, size: number): Buffer {
  const buf = Buffer.alloc(size, ' ')
  buf.write(text)
  buf[size - 1] = 0x0a
  return buf
}

function writeAll(fd: number, buf: Buffer, position?: number): void {
  for (let off = 0; off < buf.length; ) {
    off += writeSync(fd, buf, off, buf.length - off, position === undefined ? null : position + off)
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {
    /* already closed */
  }
}

export function readStatus(dir: string): DaemonStatus | undefined {
  // An update in place can be read half-done; the next read gets it whole.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return JSON.parse(readFileSync(join(dir, STATUS_NAME), 'utf8')) as DaemonStatus
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== undefined) return undefined
    }
  }
  return undefined
}
