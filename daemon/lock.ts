import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** What the lock file says: who holds the trace directory. */
export interface LockInfo {
  pid: number
  startedAt: string
  procFile: string
  systemFile: string
  logFile: string
}

export const LOCK_NAME = 'memtrace.lock'

export function lockPath(dir: string): string {
  return join(dir, LOCK_NAME)
}

export function readLock(dir: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(lockPath(dir), 'utf8')) as LockInfo
    return typeof info.pid === 'number' ? info : undefined
  } catch {
    return undefined
  }
}

/** Whether `pid` is a live memtrace process (not a stranger that got the PID). */
export function isMemtraceAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('memtrace')
  } catch {
    return true // no /proc (macOS): trust the signal check
  }
}

/**
 * Takes the directory's lock. Returns the holder when a live daemon has it; a
 * lock left by a crashed daemon is taken over (and reported as `staleFrom`).
 */
export function acquireLock(dir: string, info: LockInfo): { ok: true; staleFrom?: number } | { ok: false; holder: LockInfo } {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockPath(dir), `${JSON.stringify(info)}\n`, { flag: 'wx', mode: 0o600 })
      return { ok: true }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const holder = readLock(dir)
    if (holder && holder.pid !== process.pid && isMemtraceAlive(holder.pid)) return { ok: false, holder }
    try {
      unlinkSync(lockPath(dir))
    } catch {
      /* another starter removed it first */
    }
    if (holder) {
      const r = acquireLock(dir, info)
      return r.ok ? { ok: true, staleFrom: holder.pid } : r
    }
  }
  throw new Error(`cannot take the lock ${lockPath(dir)}`)
}

export function releaseLock(dir: string): void {
  const holder = readLock(dir)
  if (holder && holder.pid !== process.pid) return
  try {
    unlinkSync(lockPath(dir))
  } catch {
    /* gone already */
  }
}

/** Rewrites the lock (after the trace files changed). */
export function rewriteLock(dir: string, info: LockInfo): void {
  writeFileSync(lockPath(dir), `${JSON.stringify(info)}\n`, { mode: 0o600 })
}
