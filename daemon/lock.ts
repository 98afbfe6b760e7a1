import { spawnSync } from 'node:child_process'
import { closeSync, linkSync, lstatSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { createFresh, readNoFollow, UnsafePathError } from './safe-open.js'
import { macBin } from './probe/macos.js'
import { winStart } from './probe/windows.js'

/** What the lock file says: who holds the trace directory. */
export interface LockInfo {
  pid: number
  /**
   * When the process `pid` started, as the system tells it (Linux: field 22
   * of /proc/PID/stat, clock ticks since boot; macOS: `ps -o lstart=`;
   * Windows: Win32_Process's CreationDate in UTC, to the microsecond). With
   * the PID it names the daemon exactly: a PID reused by another process has
   * another start time. Absent in a lock that did not record it.
   */
  pidStart?: string
  startedAt: string
  procFile: string
  systemFile: string
  logFile: string
}

export const LOCK_NAME = 'memtrace.lock'

export function lockPath(dir: string): string {
  return join(dir, LOCK_NAME)
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code
}

/** The lock and its inode, read without following a link; undefined when there is none. */
function readLockFile(dir: string): { info: LockInfo; ino: number } | undefined {
  let got
  try {
    got = readNoFollow(lockPath(dir))
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined
    throw e
  }
  try {
    const info = JSON.parse(got.data.toString('utf8')) as LockInfo
    if (typeof info.pid === 'number') return { info, ino: got.ino }
  } catch {
    /* said below */
  }
  throw new UnsafePathError(`${lockPath(dir)} is not a memtrace lock; if no memtrace daemon traces there, remove it`)
}

export function readLock(dir: string): LockInfo | undefined {
  try {
    return readLockFile(dir)?.info
  } catch {
    return undefined
  }
}

/** The platform whose check applies: the one traced (MEMTRACE_PLATFORM for tests), not whether /proc exists. */
export function platform(): 'linux' | 'darwin' | 'win32' {
  const p = process.env.MEMTRACE_PLATFORM ?? process.platform
  return p === 'darwin' || p === 'win32' ? p : 'linux'
}

/**
 * When process `pid` started, or undefined when there is no such process (a
 * zombie counts as gone). Linux reads /proc; macOS asks `ps`, in a fixed
 * locale and zone so every user reads the same text.
 */
export function processStart(pid: number): string | undefined {
  if (platform() === 'darwin') return psStart(pid)
  if (platform() === 'win32') return winStart(pid)
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return undefined
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields[0] === 'Z' ? undefined : fields[19]
}

/** `ps -o FIELD= -p PID`, in a fixed locale and zone; undefined when ps knows no such process. */
function psField(field: string, pid: number): string | undefined {
  const r = spawnSync(macBin('ps'), ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' }, timeout: 3000 })
  const text = r.status === 0 ? r.stdout.trim().replace(/\s+/g, ' ') : ''
  return text || undefined
}

/** `ps -o lstart= -p PID`: "Wed Feb 25 14:03:12 2026"; undefined when ps knows no such process. */
export function psStart(pid: number): string | undefined {
  return psField('lstart', pid)
}

/**
 * Whether the lock's holder is running: the same PID and the same start
 * time. On macOS, where `ps` gives the start time to the second only, the
 * process must also be memtrace: a PID reused within that second by another
 * program, another user's included, is not the holder.
 */
export function isHolderAlive(lock: LockInfo): boolean {
  if (lock.pidStart === undefined || processStart(lock.pid) !== lock.pidStart) return false
  return platform() !== 'darwin' || /memtrace/.test(psField('command', lock.pid) ?? '')
}

/** Writes `info` into a new file of ours beside the lock; the caller links or renames it into place. */
function writeTemp(dir: string, info: LockInfo): string {
  const tmp = `${lockPath(dir)}.tmp-${process.pid}`
  const fd = createFresh(tmp)
  try {
    writeSync(fd, `${JSON.stringify(info)}\n`)
  } finally {
    closeSync(fd)
  }
  return tmp
}

/** Only the holder of this name may remove a stale lock: breaking is one process at a time. */
function breakerPath(dir: string): string {
  return `${lockPath(dir)}.break`
}

/**
 * Removes the lock whose inode is `ino`, which its reader proved stale. Only
 * while holding the breaker (linked from our own whole temp file, so it too
 * appears atomically): under it the lock is read again and removed only if it
 * is still that inode and its holder still gone. Nothing else ever removes a
 * lock but its own daemon, and no one can link a lock in while the stale one
 * is there, so a live lock is never removed. Returns false when another
 * process holds the breaker (the caller tries again); a breaker whose holder
 * died is cleared.
 */
function breakStale(dir: string, ino: number, tmp: string): boolean {
  try {
    linkSync(tmp, breakerPath(dir))
  } catch (e) {
    if (errno(e) !== 'EEXIST') throw e
    clearDeadBreaker(dir)
    return false
  }
  try {
    const cur = readLockFile(dir)
    if (cur && cur.ino === ino && !isHolderAlive(cur.info)) unlinkSync(lockPath(dir))
  } finally {
    unlinkSync(breakerPath(dir))
  }
  return true
}

/** A breaker left by a process that died while breaking: moved aside, and put back unless it is still the dead one. */
function clearDeadBreaker(dir: string): void {
  let got
  try {
    got = readNoFollow(breakerPath(dir))
  } catch {
    return
  }
  let holder: LockInfo | undefined
  try {
    holder = JSON.parse(got.data.toString('utf8')) as LockInfo
  } catch {
    holder = undefined
  }
  if (holder && isHolderAlive(holder)) return
  const aside = `${breakerPath(dir)}.dead-${process.pid}`
  try {
    renameSync(breakerPath(dir), aside)
  } catch {
    return
  }
  try {
    if (lstatSync(aside).ino !== got.ino) linkSync(aside, breakerPath(dir))
  } catch {
    /* another breaker is in place: it stays */
  } finally {
    unlinkSync(aside)
  }
}

/** Waits a little without giving up the thread (the lock is taken before anything else runs). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * Takes the directory's lock. The lock is written whole into a file of our
 * own and then hard-linked to its name, so it appears atomically and
 * complete, or not at all (link fails when the name exists). Returns the
 * holder when a live daemon has it; a lock whose holder is proven gone is
 * taken over (and reported as `staleFrom`).
 */
export function acquireLock(dir: string, info: LockInfo): { ok: true; staleFrom?: number } | { ok: false; holder: LockInfo } {
  const mine: LockInfo = { ...info, pidStart: processStart(process.pid) }
  const tmp = writeTemp(dir, mine)
  let staleFrom: number | undefined
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        linkSync(tmp, lockPath(dir))
        return staleFrom === undefined ? { ok: true } : { ok: true, staleFrom }
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e
      }
      const found = readLockFile(dir)
      if (!found) continue
      if (isHolderAlive(found.info)) return { ok: false, holder: found.info }
      if (breakStale(dir, found.ino, tmp)) staleFrom = found.info.pid
      else pause(10) // another start is breaking it: look again in a moment
    }
  } finally {
    unlinkSync(tmp)
  }
  throw new Error(`cannot take the lock ${lockPath(dir)}: it keeps changing`)
}

/** Removes the lock if it is this process's. */
export function releaseLock(dir: string): void {
  const holder = readLock(dir)
  if (!holder || holder.pid !== process.pid) return
  try {
    unlinkSync(lockPath(dir))
  } catch {
    /* gone already */
  }
}

/** Replaces the lock with new content (after the trace files changed), atomically. */
export function rewriteLock(dir: string, info: LockInfo): void {
  const tmp = writeTemp(dir, { ...info, pidStart: processStart(process.pid) })
  renameSync(tmp, lockPath(dir))
}
