/**
 * Runs a job on a fixed schedule tied to the clock: at every multiple of the
 * interval since the epoch, so there is no drift however long it runs. A job
 * is never started while the previous one still runs; ticks that passed
 * meanwhile are skipped, not queued, and reported.
 */
export interface TickerClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const realClock: TickerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: h => clearTimeout(h as NodeJS.Timeout),
}

export class Ticker {
  readonly #interval: number
  readonly #job: (tickMs: number) => Promise<void> | void
  readonly #onMissed: (missed: number, tickMs: number) => void
  readonly #clock: TickerClock
  #timer: unknown
  #running: Promise<void> | undefined
  #stopped = false
  /** Lateness of each tick's start, ms (kept for the last 10,000 ticks). */
  readonly lateness: number[] = []
  ticks = 0
  missed = 0

  constructor(intervalMs: number, job: (tickMs: number) => Promise<void> | void, onMissed: (missed: number, tickMs: number) => void, clock = realClock) {
    this.#interval = intervalMs
    this.#job = job
    this.#onMissed = onMissed
    this.#clock = clock
  }

  /** Starts at the next whole interval, or with one run right now when `now` is set. */
  start(now = false): void {
    if (now) this.#fire(this.#clock.now(), true)
    else this.#arm(Math.ceil((this.#clock.now() + 1) / this.#interval) * this.#interval)
  }

  #arm(tickMs: number): void {
    if (this.#stopped) return
    this.#timer = this.#clock.setTimeout(() => this.#fire(tickMs), Math.max(0, tickMs - this.#clock.now()))
  }

  #fire(tickMs: number, immediate = false): void {
    const late = this.#clock.now() - tickMs
    if (this.lateness.length >= 10_000) this.lateness.shift()
    this.lateness.push(late)
    this.ticks++
    this.#running = (async () => {
      try {
        await this.#job(tickMs)
      } finally {
        this.#running = undefined
        const now = this.#clock.now()
        // The schedule is the clock's: the next whole interval after this tick.
        // (The extra run at start-up is off the schedule: nothing it overruns is missed.)
        const base = Math.floor((immediate ? now : tickMs) / this.#interval) * this.#interval
        let next = base + this.#interval
        if (!immediate && now >= next) {
          const skipped = Math.floor((now - base) / this.#interval)
          next = base + (skipped + 1) * this.#interval
          this.missed += skipped
          this.#onMissed(skipped, base + this.#interval)
        }
        this.#arm(next)
      }
    })()
  }

  /** Stops scheduling; resolves when a job in progress has finished. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    await this.#running
  }
}

/** The q-th quantile of a tick lateness list (0 for none), as the status file reports it. */
export function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
}
