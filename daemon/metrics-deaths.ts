/**
 * Runners that died while their server still listed their model, counted as
 * the findings' "runner gone while listed" finds them: a runner is gone at
 * the first process sample without it, and counts once a listing of its
 * server taken more than two process intervals after its last sample (past
 * an unload's own race) still lists its model while no runner of that model
 * and server is alive. A listing without the model (an unload, or a server
 * that saw the death) lets it go uncounted. Pure: no clock of its own.
 */

/** A runner at a process sample: its model and its parent, the server it belongs to. */
export interface RunnerSeen {
  pid: number
  ppid: number
  model?: string
}

/** Process intervals a runner must be gone for before a listing counts, as the findings' margin. */
const MARGIN_PERIODS = 2
/** A gone runner no answered listing has spoken of for this long is let go. */
const WAIT_MS = 10 * 60_000

export class RunnerDeaths {
  readonly #intervalMs: number
  /** The runners of the last process sample, by PID, with the tick they were last seen at. */
  #alive = new Map<number, RunnerSeen & { lastMs: number }>()
  #pending: (RunnerSeen & { lastMs: number; model: string })[] = []

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs
  }

  /** A process sample's runners. */
  processes(runners: RunnerSeen[], tickMs: number): void {
    const now = new Map(runners.map(r => [r.pid, { ...r, lastMs: tickMs }]))
    for (const [pid, r] of this.#alive) if (!now.has(pid) && r.model !== undefined) this.#pending.push({ ...r, model: r.model })
    this.#alive = now
  }

  /**
   * A system sample's listings by server ('' where the host runs one), taken at `atMs`; a server absent from
   * `listed` did not answer, which says nothing. `serverOf` names a runner's server by its parent's PID (as of
   * now: the servers may have been found after the runner's last sample). Returns the servers whose runners
   * died while listed, one entry a death.
   */
  listings(listed: Map<string, string[]>, atMs: number, serverOf: (ppid: number) => string): string[] {
    const died: string[] = []
    this.#pending = this.#pending.filter(g => {
      if (atMs - g.lastMs > WAIT_MS) return false
      const server = serverOf(g.ppid)
      const models = listed.get(server)
      if (models === undefined || atMs <= g.lastMs + MARGIN_PERIODS * this.#intervalMs) return true
      const served = [...this.#alive.values()].some(r => r.model === g.model && serverOf(r.ppid) === server)
      if (models.includes(g.model) && !served) died.push(server)
      return false
    })
    return died
  }
}
