import { MAX_COMMAND } from '../core/parse/proc-tsv.js'

/** A changed command line is written again at most this often per process: one rewriting its argv every second costs no more. */
export const COMMAND_REWRITE_MS = 60_000

/** Control characters would break a TSV row; `ps` prints them as `?` too. */
export function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, '?')
}

/** At most MAX_COMMAND characters, never cutting a character in two. */
export function bounded(text: string): string {
  if (text.length <= MAX_COMMAND) return text
  const cut = text.charCodeAt(MAX_COMMAND - 1)
  return text.slice(0, cut >= 0xd800 && cut <= 0xdbff ? MAX_COMMAND - 1 : MAX_COMMAND)
}

/**
 * The command column of the process trace in format 2 (docs/format.md): a
 * process's command line, cleaned and cut to MAX_COMMAND characters, is
 * written on its first row in a file and again when it changes (at most
 * every COMMAND_REWRITE_MS); its other rows leave it out. `reset` (a new
 * file, a reopened one, rows dropped on a full disk) writes every command
 * again, so each file, and each stretch after a gap, reads on its own.
 */
export class CommandColumn {
  #written = new Map<string, { text: string; atMs: number }>()
  #next = new Map<string, { text: string; atMs: number }>()

  /** `\t` and the command, or '' where the row leaves it out. Processes not asked about in a sample are forgotten at `sampled`. */
  column(key: string, command: string, nowMs: number): string {
    const text = bounded(clean(command))
    const last = this.#written.get(key)
    if (last && (last.text === text || nowMs - last.atMs < COMMAND_REWRITE_MS)) {
      this.#next.set(key, last)
      return ''
    }
    this.#next.set(key, { text, atMs: nowMs })
    return `\t${text}`
  }

  /** The sample's rows are built: only its processes are remembered. */
  sampled(): void {
    this.#written = this.#next
    this.#next = new Map()
  }

  reset(): void {
    this.#written = new Map()
    this.#next = new Map()
  }
}
