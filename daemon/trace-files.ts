import { existsSync, rmSync } from 'node:fs'
import { type DirHold, holdDir } from './dir-hold.js'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { TSV_HEADER_2 } from '../core/parse/proc-tsv.js'
import { formatTs, localStamp } from '../core/parse/time.js'
import { AppendFile, mib } from './sink.js'
import type { WriteState } from './status-file.js'

export interface TraceNames {
  procFile: string
  systemFile: string
}

/**
 * The two trace files of one run (and the daemon's own log, when it is a
 * file): new names per run, failed writes held back and retried each system
 * sample, and new files when the old ones are removed while tracing.
 */
export class TraceFiles {
  proc!: AppendFile
  sys!: AppendFile
  readonly #dir: string
  readonly #log: Logger
  readonly #logFile: AppendFile | undefined
  readonly #onError: (message: string) => void
  /** The outputs whose writes are failing, with the error last said for each. */
  readonly #failing = new Map<AppendFile, string>()
  /** Bytes dropped per trace file already reported in the trace. */
  readonly #droppedReported = new Map<string, number>()
  #closed = false
  /** The directory held since the start (see DirHold); absent until `hold`. */
  #hold: DirHold | undefined
  /** False while the trace directory is gone or refused: nothing else of the daemon's is written there. */
  usable = true
  /** How many times the files were reopened (SIGHUP): a reopened file may be a new one. */
  reopened = 0
  #refused: string | undefined

  constructor(dir: string, log: Logger, logFile: AppendFile | undefined, onError: (message: string) => void) {
    this.#dir = dir
    this.#log = log
    this.#logFile = logFile
    this.#onError = onError
  }

  /** Holds the trace directory (made by the start's checks) before anything is written there. */
  hold(): void {
    this.#hold = holdDir(this.#dir)
  }

  /** Names for a new run: existing files are never appended to by a new run, nor overwritten. */
  names(): TraceNames {
    const s = localStamp(Date.now())
    let procFile = join(this.#dir, `ollama-process-memtrace-${s}.tsv`)
    let systemFile = join(this.#dir, `system-memtrace-${s}.log`)
    for (let n = 2; existsSync(procFile) || existsSync(systemFile); n++) {
      procFile = join(this.#dir, `ollama-process-memtrace-${s}-${n}.tsv`)
      systemFile = join(this.#dir, `system-memtrace-${s}-${n}.log`)
    }
    return { procFile, systemFile }
  }

  /** Creates both files; when the second is refused, the first, just created, is removed again. */
  open(files: TraceNames): void {
    const proc = new AppendFile(files.procFile, { header: TSV_HEADER_2 })
    try {
      this.sys = new AppendFile(files.systemFile)
    } catch (e) {
      proc.close()
      rmSync(files.procFile, { force: true })
      throw e
    }
    this.proc = proc
  }

  /** One append; a failure is said and the text held back. */
  write(f: AppendFile, text: string): void {
    if (!f.write(text)) this.#writeFailed(f)
  }

  /** Closes both trace files; the bytes still held back are lost. */
  close(): number {
    const lost = (this.proc?.close() ?? 0) + (this.sys?.close() ?? 0)
    this.#closed = true
    return lost
  }

  /** SIGHUP: reopen the files at their paths (after log rotation). */
  reopen(): void {
    this.reopened++
    this.#logFile?.reopen()
    this.proc.reopen()
    this.sys.reopen()
  }

  /** Said once when the writes to a file start failing, and again if the error changes; `status` shows it all along. */
  #writeFailed(f: AppendFile): void {
    if (this.#closed || f.lastError === undefined) return
    if (this.#failing.get(f) === f.lastError) return
    this.#failing.set(f, f.lastError)
    this.#onError(`cannot write ${f.path}: ${f.lastError}; holding back what is not written (${f.pendingBytes} bytes, up to ${mib(f.maxPendingBytes)}) and retrying every sample`)
  }

  /** Each system sample retries what is held back, and says when writing works again. */
  #retryWrites(): void {
    for (const f of this.#logFile ? [this.proc, this.sys, this.#logFile] : [this.proc, this.sys]) {
      if (f.pendingBytes > 0) f.flush()
      if (f.lastError !== undefined) this.#writeFailed(f)
      else if (this.#failing.delete(f)) this.#log.info({ file: f.path, droppedBytes: f.droppedBytes }, 'writing again: what was held back is written')
    }
  }

  /** Samples dropped while the disk was full leave a gap: the `dropped` events that say why. */
  dropped(): Record<string, unknown>[] {
    const events: Record<string, unknown>[] = []
    for (const [name, f] of [['process', this.proc], ['system', this.sys]] as const) {
      const before = this.#droppedReported.get(f.path) ?? 0
      if (f.droppedBytes === before) continue
      this.#droppedReported.set(f.path, f.droppedBytes)
      events.push({ ts: formatTs(Date.now()), file: name, bytes: f.droppedBytes - before, reason: 'more was held back than the limit while writes failed' })
    }
    return events
  }

  /**
   * Before each system sample: retries held-back writes, or, when the trace
   * files or their directory were removed while running, starts new files.
   * `renamed` takes the new names (and may throw, as recreating them may).
   * Returns the sentence to say, if any.
   */
  check(renamed: (files: TraceNames) => void): string | undefined {
    const held = this.#hold?.holds() ?? true
    if (held && existsSync(this.proc.path) && existsSync(this.sys.path)) {
      this.#retryWrites()
      return undefined
    }
    const gone = held ? 'the trace files were removed' : `the trace directory ${this.#dir} was removed`
    try {
      if (!held) this.#hold?.recreate()
      this.usable = true
      this.#refused = undefined
      this.#logFile?.reopen()
      this.proc.close()
      this.sys.close()
      const files = this.names()
      this.open(files)
      renamed(files)
      return `${gone} while tracing; what was written before is lost with them; new files: ${files.procFile}, ${files.systemFile}`
    } catch (e) {
      // Nothing more is written there (status, lock, marks) until it is ours again; said once per reason.
      this.usable = this.#hold?.holds() ?? false
      const message = `${gone} while tracing, and it cannot be recreated: ${(e as Error).message}`
      if (message === this.#refused) return undefined
      this.#refused = message
      return message
    }
  }

  /** For `status`: each output's held-back and dropped bytes and its error. */
  states(): { process: WriteState; system: WriteState; log: WriteState } {
    return { process: writeState(this.proc), system: writeState(this.sys), log: writeState(this.#logFile) }
  }
}

function writeState(f: AppendFile | undefined): WriteState {
  if (!f) return { pendingBytes: 0, droppedBytes: 0 }
  return {
    pendingBytes: f.pendingBytes,
    droppedBytes: f.droppedBytes,
    ...(f.lastError !== undefined ? { error: f.lastError } : {}),
    ...(f.failingSinceMs !== undefined ? { failingSince: formatTs(f.failingSinceMs) } : {}),
  }
}
