import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'

// The daemon often runs as root in a directory others may write to: every
// file it opens there is opened without following a symbolic link, and must
// be a plain file with no other name (a hard link to /etc/shadow is as bad as
// a symbolic one). O_NONBLOCK keeps a planted FIFO from hanging the open; it
// changes nothing for a regular file.
const { O_WRONLY, O_RDONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants

/** A file or directory memtrace refuses to use; the message says which and why. */
export class UnsafePathError extends Error {}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code
}

function linkRefused(path: string): UnsafePathError {
  return new UnsafePathError(`${path} is a symbolic link; memtrace never writes or reads through one`)
}

/** Opens `path` with `flags` plus O_NOFOLLOW; a link is refused with a clear message. */
function openNoFollow(path: string, flags: number, mode?: number): number {
  try {
    return openSync(path, flags | O_NOFOLLOW | O_NONBLOCK, mode)
  } catch (e) {
    // Linux and macOS say ELOOP; the BSDs say EMLINK.
    if (errno(e) === 'ELOOP' || errno(e) === 'EMLINK') throw linkRefused(path)
    throw e
  }
}

/** Closes `fd` and throws unless it is a regular file with one name. */
function checkPlain(fd: number, path: string): number {
  const st = fstatSync(fd)
  const problem = !st.isFile() ? 'is not a regular file' : st.nlink > 1 ? `has ${st.nlink} hard links` : undefined
  if (problem === undefined) return fd
  closeSync(fd)
  throw new UnsafePathError(`${path} ${problem}; memtrace writes only to files of its own`)
}

/**
 * Opens `path` for appending. A missing file is created with O_EXCL and
 * `mode`; an existing one is opened as it is. Neither follows a link.
 */
export function openAppend(path: string, mode = 0o600): number {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return checkPlain(openNoFollow(path, O_WRONLY | O_APPEND), path)
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw e
    }
    try {
      return checkPlain(openNoFollow(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, mode), path)
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e // created between the two opens: open it as it is
    }
  }
  throw new UnsafePathError(`${path} keeps appearing and disappearing; memtrace does not write to it`)
}

/**
 * Creates `path` anew for writing (a temporary file of memtrace's own). What
 * is in the way, a link included, is removed first: unlink never follows.
 */
export function createFresh(path: string, mode = 0o600): number {
  try {
    unlinkSync(path)
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e
  }
  return checkPlain(openNoFollow(path, O_WRONLY | O_CREAT | O_EXCL, mode), path)
}

/**
 * Reads a file of memtrace's own without following a link; `ino` tells two
 * versions apart. With `single`, a file with another name too (a hard link
 * planted to another file) is refused, as for writing.
 */
export function readNoFollow(path: string, o: { single?: boolean } = {}): { data: Buffer; ino: number } {
  const fd = openNoFollow(path, O_RDONLY)
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new UnsafePathError(`${path} is not a regular file`)
    if (o.single && st.nlink > 1) throw new UnsafePathError(`${path} has ${st.nlink} hard links; memtrace reads only files of its own`)
    return { data: readFileSync(fd), ino: st.ino }
  } finally {
    closeSync(fd)
  }
}

/**
 * Makes sure `dir` is a directory to trace into: creates it (and its missing
 * parents) private to this user, and refuses a symbolic link owned by
 * another user (root's and this user's own links are followed, as the
 * kernel's protected_symlinks rule does). Returns the first folder it
 * created, if any, so that a start refused later can remove what it made.
 */
export function ensureDir(dir: string): string | undefined {
  let st
  let created: string | undefined
  try {
    st = lstatSync(dir)
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e
    created = mkdirSync(dir, { recursive: true, mode: 0o700 })
    st = lstatSync(dir)
  }
  if (st.isSymbolicLink()) {
    const me = process.geteuid?.()
    if (me !== undefined && st.uid !== me && st.uid !== 0) {
      throw new UnsafePathError(`${dir} is a symbolic link owned by uid ${st.uid}, not by this user (uid ${me}) or root; memtrace does not follow it`)
    }
    st = statSync(dir)
  }
  if (!st.isDirectory()) throw new UnsafePathError(`${dir} is not a directory`)
  return created
}

/**
 * Removes the folders `ensureDir` created (`dir` up to `created`), if they
 * are still empty: a start that was refused leaves nothing behind.
 */
export function removeCreated(dir: string, created: string | undefined): void {
  if (created === undefined) return
  for (let d = dir; d.length >= created.length; d = dirname(d)) {
    try {
      rmdirSync(d)
    } catch {
      return // not empty (another start's files), or gone
    }
    if (d === created) return
  }
}
