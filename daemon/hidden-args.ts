import { isPlaceholder } from '../core/model/roles.js'
import { PLACEHOLDER_MIN_SAMPLES } from '../core/model/trace.js'
import type { ProcInfo } from './probe/proc-linux.js'

/**
 * An `(ollama)` that stays is a server whose arguments ps cannot read (run as
 * root, by `sudo brew services` or a LaunchDaemon), not a start-up
 * placeholder. Said once per daemon.
 */
export class HiddenArgs {
  /** Placeholder PIDs and the sample each was first seen at. */
  readonly #since = new Map<number, number>()
  #said = false

  /** The sentence to record, the first time a placeholder outlives a start-up; otherwise undefined. */
  check(picked: ProcInfo[], tickMs: number, intervalMs: number): string | undefined {
    if (this.#said) return undefined
    const now = new Set(picked.filter(p => isPlaceholder(p.comm, p.command)).map(p => p.pid))
    for (const pid of [...this.#since.keys()]) if (!now.has(pid)) this.#since.delete(pid)
    for (const pid of now) if (!this.#since.has(pid)) this.#since.set(pid, tickMs)
    const lasting = [...this.#since.entries()].find(([, since]) => tickMs - since >= (PLACEHOLDER_MIN_SAMPLES - 1) * intervalMs)
    if (!lasting) return undefined
    this.#said = true
    return `the arguments of Ollama's processes cannot be read (pid ${lasting[0]} shows as "(ollama)": it runs as another user, such as root): runners are drawn by name only and named from /api/ps; sudo memtrace start would read them`
  }
}
