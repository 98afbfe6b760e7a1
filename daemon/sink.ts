import { closeSync, fstatSync, mkdirSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { openAppend } from './safe-open.js'

/** Pending text kept while writes fail (a full disk); beyond it, the oldest is dropped and counted. */
const MAX_PENDING = 8 * 1024 * 1024

/**
 * An append-only trace file. Every call writes whole rows or a whole block in
 * one write(2) on a file opened O_APPEND, so a crash leaves only complete
 * lines (or, at worst, one cut line, which the renderer reports). A file is
 * created readable by its owner only and is never truncated, nor opened
 * through a symbolic link (`openAppend`).
 *
 * A failed write keeps the text, reopens the file and tries again on the next
 * call: after a full disk is freed, or the directory comes back, writing goes
 * on where it stopped.
 */
export class AppendFile {
  readonly path: string
  readonly #header: string | undefined
  #fd: number | undefined
  #pending = ''
  #closed = false
  droppedBytes = 0
  bytesWritten = 0
  lastError: string | undefined

  constructor(path: string, header?: string) {
    this.path = path
    this.#header = header
    this.#fd = openAppend(path)
    if (header !== undefined) this.write(header)
  }

  /** Appends text (whole lines); false if it is held back for a later retry. */
  write(text: string): boolean {
    if (this.#closed) return false
    this.#pending += text
    if (this.#pending.length > MAX_PENDING) {
      const cut = this.#pending.indexOf('\n', this.#pending.length - MAX_PENDING) + 1
      this.droppedBytes += cut
      this.#pending = this.#pending.slice(cut)
    }
    return this.flush()
  }

  /** Writes what is pending; reopens the file first if the last write failed. */
  flush(): boolean {
    if (this.#pending === '') return true
    try {
      if (this.#fd === undefined) {
        mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
        this.#fd = openAppend(this.path)
      }
      const buf = Buffer.from(this.#pending)
      let off = 0
      while (off < buf.length) off += writeSync(this.#fd, buf, off)
      this.bytesWritten += buf.length
      this.#pending = ''
      this.lastError = undefined
      return true
    } catch (e) {
      this.lastError = `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.trim()
      this.#closeFd()
      return false
    }
  }

  get pendingBytes(): number {
    return this.#pending.length
  }

  /**
   * Closes and opens again at the same path (after log rotation: SIGHUP). A
   * new, empty file gets the header again, so it reads on its own.
   */
  reopen(): void {
    if (this.#closed) return
    this.flush()
    this.#closeFd()
    try {
      this.#fd = openAppend(this.path)
      if (this.#header !== undefined && fstatSync(this.#fd).size === 0) this.write(this.#header)
    } catch (e) {
      this.lastError = (e as Error).message
    }
  }

  close(): void {
    this.flush()
    this.#closeFd()
    this.#closed = true
  }

  #closeFd(): void {
    if (this.#fd === undefined) return
    try {
      closeSync(this.#fd)
    } catch {
      /* already gone */
    }
    this.#fd = undefined
  }
}
