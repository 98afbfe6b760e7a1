import { closeSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { createFresh, readNoFollow } from './safe-open.js'

/**
 * How `memtrace stop` asks a daemon to stop where there are no POSIX signals
 * (Windows, whose only way to end another process, TerminateProcess, closes
 * nothing): a file in the trace directory naming the daemon by its PID and
 * start. The daemon looks for it at each process sample, removes it, and
 * stops as on SIGTERM: the last block written, the files closed, the lock
 * released.
 */
export const STOP_NAME = 'memtrace.stop'

/** Who is asked to stop: the lock's PID and the time its daemon started (a PID alone may be another daemon's later). */
export interface StopWho {
  pid: number
  startedAt: string
}

/** Writes the request whole (a file of our own, renamed into place). */
export function requestStop(dir: string, who: StopWho): void {
  const path = join(dir, STOP_NAME)
  const tmp = `${path}.tmp-${process.pid}`
  const fd = createFresh(tmp)
  try {
    writeSync(fd, `${JSON.stringify({ pid: who.pid, startedAt: who.startedAt })}\n`)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

/** True when a request names this daemon; it is removed then (one of another daemon, or unreadable, is left). */
export function takeStopRequest(dir: string, me: StopWho): boolean {
  const path = join(dir, STOP_NAME)
  let who: Partial<StopWho>
  try {
    who = JSON.parse(readNoFollow(path).data.toString('utf8')) as Partial<StopWho>
  } catch {
    return false
  }
  if (who.pid !== me.pid || who.startedAt !== me.startedAt) return false
  try {
    unlinkSync(path)
  } catch {
    /* gone already */
  }
  return true
}
