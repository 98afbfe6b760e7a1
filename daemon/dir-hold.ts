import { lstatSync, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { UnsafePathError } from './safe-open.js'

/**
 * The trace directory the daemon writes into, held by its identity (device
 * and inode) from the start. Node cannot write relative to a directory's
 * descriptor, so every file opened there checks first that the path still
 * names that directory: one removed while tracing and replaced (another
 * user's link or folder in a world-writable parent) is never written
 * through. A directory the daemon makes again itself passes the checks of a
 * start and more: a link must be this user's or root's, and the directory it
 * names must be this user's or root's too.
 */
export class DirHold {
  readonly dir: string
  #dev: number
  #ino: number

  constructor(dir: string) {
    this.dir = resolve(dir)
    const st = statSync(this.dir)
    this.#dev = st.dev
    this.#ino = st.ino
  }

  /** Whether the path still names the directory held. */
  holds(): boolean {
    try {
      const st = statSync(this.dir)
      return st.dev === this.#dev && st.ino === this.#ino
    } catch {
      return false
    }
  }

  /** Throws unless the path still names the directory held. */
  assert(): void {
    if (!this.holds()) throw new UnsafePathError(`the trace directory ${this.dir} was removed or replaced; memtrace writes only into the one it holds`)
  }

  /**
   * The directory is gone: made again, private to this user, and held. What
   * someone else put at its name in the meantime is refused with the reason.
   */
  recreate(): void {
    mkdirSync(dirname(this.dir), { recursive: true, mode: 0o700 })
    try {
      mkdirSync(this.dir, { mode: 0o700 })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const me = process.geteuid?.()
    const foreign = (uid: number) => me !== undefined && uid !== me && uid !== 0
    const link = lstatSync(this.dir)
    if (link.isSymbolicLink() && foreign(link.uid)) {
      throw new UnsafePathError(`${this.dir} is now a symbolic link owned by uid ${link.uid}, not by this user (uid ${me}) or root; memtrace does not follow it`)
    }
    const st = statSync(this.dir)
    if (!st.isDirectory()) throw new UnsafePathError(`${this.dir} is now not a directory`)
    if (foreign(st.uid)) throw new UnsafePathError(`${this.dir} is now a directory owned by uid ${st.uid}, not by this user (uid ${me}) or root; memtrace does not trace into it`)
    this.#dev = st.dev
    this.#ino = st.ino
  }
}

const held = new Map<string, DirHold>()

/** Holds `dir` for this process: every trace file opened there checks it first. */
export function holdDir(dir: string): DirHold {
  const h = new DirHold(dir)
  held.set(h.dir, h)
  return h
}

/** Throws when `path`'s directory is held and its name no longer names it. */
export function assertHeld(path: string): void {
  held.get(dirname(resolve(path)))?.assert()
}
