/** How many of the server log's lines the follower keeps a minute: a debug log or a loop of errors must not fill the disk. */
import type { ServerEvent } from '../schemas/index.js'

/** Lines of each class kept a minute at most. */
export const MAX_LINES_A_MINUTE = 600
/** Decisions and runners' lives have a budget of their own: a flood of figures never crowds them out. */
const DECISIONS = new Set(['eviction', 'fits', 'retry', 'oom', 'load-failed', 'runner-starting', 'runner-started', 'runner-stopped', 'kernel-oom-kill', 'server-config', 'version'])

/** The minute under way: lines kept of each class (figures, decisions), and lines dropped since the last were said. */
export class MinuteCap {
  #windowStart: number
  readonly #keptInWindow = [0, 0]
  dropped = 0

  constructor(now: number) {
    this.#windowStart = now
  }

  /** Whether a line of `kind`, read at `now`, is kept; a minute over, `minuteOver` is called first (to say what it dropped). */
  admits(kind: ServerEvent['kind'], now: number, minuteOver: () => void): boolean {
    if (now - this.#windowStart >= 60_000) {
      minuteOver()
      this.#windowStart = now
      this.#keptInWindow.fill(0)
    }
    const cls = DECISIONS.has(kind) ? 1 : 0
    if ((this.#keptInWindow[cls] as number) >= MAX_LINES_A_MINUTE) {
      this.dropped++
      return false
    }
    this.#keptInWindow[cls]!++
    return true
  }
}
