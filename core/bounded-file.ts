/**
 * Reading a file someone else may have put there (a models folder, a
 * manifest, a weights blob): only a regular file is opened, never a FIFO, a
 * device or a socket, the open never blocks, and no more than a stated cap
 * is read. Used by `model-files.ts`; exported so that any reader of model
 * files, the daemon's included, can take the same care.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, read, readSync, type Stats, statSync } from 'node:fs'
import { promisify } from 'node:util'

const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW, O_NOCTTY } = constants
const readAsync = promisify(read)

/** A file memtrace will not read; the message names it and says why. */
export class FileRefused extends Error {}

export interface OpenOptions {
  /**
   * Whether a symbolic link as the last part of the path is followed (to a
   * regular file only). A user's own command may; a daemon running as root
   * should pass false.
   */
  follow?: boolean
}

function kind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device'
  if (st.isSocket()) return 'a socket'
  if (st.isDirectory()) return 'a directory'
  if (st.isSymbolicLink()) return 'a symbolic link'
  return 'not a regular file'
}

/**
 * Opens a regular file for reading. What the path names is looked at before
 * the open (opening a device can itself do something), the open is
 * non-blocking (a FIFO planted after the look cannot hang it), and the
 * descriptor must be the very file that was looked at. Throws FileRefused,
 * or the system's error (ENOENT and the like) as it is.
 */
export function openRegular(path: string, o: OpenOptions = {}): { fd: number; size: number; ino: number } {
  const follow = o.follow ?? true
  const before = follow ? statSync(path) : lstatSync(path)
  if (!before.isFile()) throw new FileRefused(`${path} is ${kind(before)}, not a regular file; memtrace does not read it`)
  let fd: number
  try {
    fd = openSync(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ELOOP' || code === 'EMLINK') throw new FileRefused(`${path} is a symbolic link; memtrace does not follow it here`)
    throw e
  }
  const st = fstatSync(fd)
  if (!st.isFile() || st.dev !== before.dev || st.ino !== before.ino) {
    closeSync(fd)
    throw new FileRefused(`${path} changed while it was opened (now ${st.isFile() ? 'another file' : kind(st)}); memtrace does not read it`)
  }
  return { fd, size: st.size, ino: st.ino }
}

/** `n` bytes as a person reads them: 1 MiB, 3.0 GiB. */
function bytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${Math.round(n / 1024 ** 2)} MiB` : n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n} bytes`
}

/**
 * A whole regular file of at most `max` bytes. A larger one, sparse or not,
 * is refused before anything is read, and one that grows past the cap while
 * it is read is refused too: at most `max` + 1 bytes are ever held.
 */
export function readCapped(path: string, max: number, what: string, o: OpenOptions = {}): Buffer {
  const { fd, size } = openRegular(path, o)
  try {
    if (size > max) throw new FileRefused(`${path} holds ${bytes(size)}, more than the ${bytes(max)} ${what} may hold; memtrace does not read it`)
    const buf = Buffer.alloc(Math.min(size, max) + 1)
    let got = 0
    for (let n = 1; n > 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, got)
    if (got > max) throw new FileRefused(`${path} grew past the ${bytes(max)} ${what} may hold while it was read; memtrace does not read it`)
    return buf.subarray(0, got)
  } finally {
    closeSync(fd)
  }
}

/**
 * An open regular file read by ranges, never past `max` bytes from its
 * start: for a header at the head of a large file (a GGUF's metadata before
 * gigabytes of weights). Reads run on libuv's threads, off the event loop.
 */
export class CappedFile {
  private constructor(
    readonly path: string,
    readonly fd: number,
    readonly size: number,
    readonly max: number,
    readonly what: string,
  ) {}

  static open(path: string, max: number, what: string, o: OpenOptions = {}): CappedFile {
    const { fd, size } = openRegular(path, o)
    return new CappedFile(path, fd, size, max, what)
  }

  /** Up to `length` bytes from `start` (fewer at the end of the file); refused past the cap. */
  async read(start: number, length: number): Promise<Buffer> {
    if (!(start >= 0) || !(length >= 0)) throw new FileRefused(`${this.path}: a read at ${start} of ${length} bytes`)
    if (start + length > this.max) throw new FileRefused(`${this.path}: ${this.what} runs past the ${bytes(this.max)} memtrace reads of it`)
    const buf = Buffer.alloc(Math.max(0, Math.min(length, this.size - start)))
    let got = 0
    for (let n = 1; n > 0 && got < buf.length; got += n) n = (await readAsync(this.fd, buf, got, buf.length - got, start + got)).bytesRead
    return buf.subarray(0, got)
  }

  close(): void {
    closeSync(this.fd)
  }
}
