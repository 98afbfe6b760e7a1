import type { Logger } from 'pino'
import { type Container, containerLogOrigin, containerOfPid, describeOrigin, findServerLog, type LogOrigin, type LogPlatform } from './log-origin.js'
import type { ServerEvent } from '../schemas/index.js'
import { POLL_MS, ServerLogFollower } from './server-log.js'

/** What `memtrace status` says of the server's log. */
export interface ServerLogStatus {
  from: string
  file: string
  lines: number
  problem?: string
}

const NO_LOG =
  "no server log found (not the macOS app's, Homebrew's, a systemd unit's, nor a Docker or Podman container's): memtrace start --server-log PATH or --server-log-cmd 'CMD' follows what CMD prints"

/**
 * The daemon's server log: the one named (`--server-log`, `--server-log-cmd`)
 * or found on this machine, followed from the start. On Linux with neither,
 * the server's container: at each system sample the server's cgroup is read,
 * and a server in a Docker or Podman container has its `logs -f` followed
 * (again, in the same file, when the server comes back in another
 * container). Where there is no log, it is said once (`problem`).
 */
export class ServerLogSource {
  readonly #log: Logger
  readonly #file: string
  readonly #startedAt: number
  readonly #problem: (message: string) => void
  readonly #procRoot: string
  #follower: ServerLogFollower | undefined
  /** Looking for the server's container: no log was named or found on Linux. */
  readonly #lookForContainer: boolean
  #container: Container | undefined
  /** The server's PID when its container's log was followed, and when that command ended (the container stopped). */
  #followedPid: number | undefined
  #endedAt: number | undefined
  #saidNone = false
  /** Files are read at the daemon's process tick (poll()), not by a timer of their own. */
  #byTick = false
  /** Lines kept by the followers of earlier containers. */
  #keptBefore = 0
  status: ServerLogStatus
  /** Told of each event the log's lines make (the metrics count evictions). */
  readonly #onEvent: ((e: ServerEvent) => void) | undefined

  /** A log is followed and read (a file, or a command that has not ended), with no problem said of it. */
  get following(): boolean {
    return this.#follower !== undefined && this.#endedAt === undefined && this.status.problem === undefined
  }

  /** `problem` records a failure in the trace (a source-error) and the daemon's log. */
  constructor(o: { named?: LogOrigin; platform: LogPlatform; procRoot: string; file: string; startedAt: number; log: Logger; problem: (message: string) => void; onEvent?: (e: ServerEvent) => void }) {
    this.#onEvent = o.onEvent
    this.#log = o.log
    this.#file = o.file
    this.#startedAt = o.startedAt
    this.#problem = o.problem
    this.#procRoot = o.procRoot
    const origin = o.named ?? findServerLog(o.platform)
    this.#lookForContainer = !origin && o.platform === 'linux'
    this.status = { from: 'none', file: '', lines: 0, problem: "looking for the server: in a Docker or Podman container, its log is followed" }
    if (origin) this.#follower = this.#follow(origin)
    else if (!this.#lookForContainer) this.#sayNone()
  }

  /** Lines kept since the start. */
  get kept(): number {
    return this.#keptBefore + (this.#follower?.kept ?? 0)
  }

  /**
   * With `tickMs` at the follower's own period (a second), a file is read at
   * each poll(), which the daemon calls after each process sample: no timer
   * of its own, so the daemon wakes once a second, not twice. At any other
   * process interval the file keeps its own timer.
   */
  start(tickMs: number): void {
    this.#byTick = tickMs === POLL_MS
    this.#follower?.start(this.#byTick ? 'by-caller' : POLL_MS)
  }

  /** At each process tick: reads what a followed file gained (a command's output comes by itself). */
  poll(): void {
    if (this.#byTick) this.#follower?.poll()
  }

  /**
   * At each system sample, with the server's PID where it is known: a server
   * in a container gets its log followed. A container restarted (its log
   * command ended with status 0, and the server has a new PID) is followed
   * again from where the last command ended; a command that failed (no right
   * to run `docker logs`) is not tried again for that container.
   */
  check(serverPid: number | undefined): void {
    if (!this.#lookForContainer) return
    const found = serverPid ? containerOfPid(serverPid, this.#procRoot) : undefined
    const same = found !== undefined && found.id === this.#container?.id
    const again = same && this.#endedAt !== undefined && serverPid !== this.#followedPid
    const origin = found && (!same || again) ? containerLogOrigin(found, again ? (this.#endedAt as number) : this.#startedAt) : undefined
    if (origin) {
      if (this.#follower) {
        this.#keptBefore += this.#follower.kept
        void this.#follower.stop()
      }
      this.#container = found
      this.#followedPid = serverPid
      this.#endedAt = undefined
      this.#follower = this.#follow(origin)
      this.#follower.start(this.#byTick ? 'by-caller' : POLL_MS)
      this.#log.info({ runtime: found?.runtime, container: found?.id }, 'the server runs in a container: following its log')
    } else if (!this.#follower) this.#sayNone(found)
  }

  stop(): Promise<void> {
    return this.#follower?.stop() ?? Promise.resolve()
  }

  #follow(origin: LogOrigin): ServerLogFollower {
    const status: ServerLogStatus = { from: describeOrigin(origin), file: this.#file, lines: this.kept }
    this.status = status
    const container = this.#container
    const follower = new ServerLogFollower(origin, this.#file, this.#log, (m, stoppedCleanly) => {
      status.problem = m
      this.#problem(m)
      // `docker logs -f` ends with status 0 when its container stops; a refusal (no right to run it) ends otherwise.
      if (stoppedCleanly && container && container === this.#container) this.#endedAt = Date.now()
    })
    follower.onEvent = this.#onEvent
    return follower
  }

  /** No log: said once. */
  #sayNone(container?: Container): void {
    if (this.#saidNone) return
    this.#saidNone = true
    const problem = container
      ? `the server runs in a ${container.runtime} container (${container.id}) whose log memtrace cannot follow by itself: memtrace start --server-log-cmd 'CMD' follows what CMD prints`
      : NO_LOG
    this.status = { from: 'none', file: '', lines: 0, problem }
    this.#problem(problem)
  }
}
