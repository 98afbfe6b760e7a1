import { closeSync, openSync, readSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'
import { eachLine } from './each-line.js'
import { readUtf16Lines } from './read-utf16.js'

/**
 * Bytes read at a time. Well below V8's large-object size, so the text of a
 * chunk is an ordinary young string (decoding 256 KiB at once cost several
 * times more per byte), and small enough that the chunk in hand when a young
 * collection comes, copied each time, does not make the young generation grow.
 */
const CHUNK = 1 << 15
/** The longest line kept; a longer one (no newline in sight) is reported and skipped, so memory stays bounded. */
export const MAX_LINE = 1 << 20
const NL = 0x0a

/** Thrown for a path that is not a regular file: a device may never end, a FIFO may never be written. */
export class NotAFile extends Error {}

/**
 * Feeds a file to `onLine` one line at a time (1-based numbers), holding one
 * chunk in memory. A last line without a newline goes to `onTruncated`
 * instead: the writer was cut off there. `afterChunk` runs between chunks:
 * a consumer drains its own output there (backpressure for `memtrace
 * parse`), and the read waits when it returns a promise.
 *
 * Lines are found in the bytes (a newline byte is never part of a UTF-8
 * sequence) and only whole lines are decoded, so a chunk is decoded once and
 * never joined to the text before it. Chunks are read synchronously: handing
 * each to the thread pool and back cost more than reading it.
 */
export async function readLines(
  path: string,
  onLine: (line: string, no: number) => void,
  onTruncated: (line: string, no: number) => void,
  afterChunk?: () => Promise<void> | void,
  onTooLong?: (no: number) => void,
): Promise<{ lines: number; bytes: number }> {
  const st = await stat(path)
  if (st.isDirectory()) throw new NotAFile('is a directory')
  if (!st.isFile()) throw new NotAFile(`${path} is not a regular file (a device or a pipe may never end)`)
  const fd = openSync(path, 'r')
  // A byte-order mark: UTF-16 LE (PowerShell 5's `>`) is decoded as such; UTF-8's is left out of the first line.
  const bom = Buffer.alloc(3)
  const head = readSync(fd, bom, 0, 3, 0)
  if (head >= 2 && bom[0] === 0xff && bom[1] === 0xfe) {
    try {
      return await readUtf16Lines(fd, MAX_LINE, onLine, onTruncated, afterChunk, onTooLong)
    } finally {
      closeSync(fd)
    }
  }
  let bomLeft = head === 3 && bom[0] === 0xef && bom[1] === 0xbb && bom[2] === 0xbf ? 3 : 0
  const buf = Buffer.allocUnsafe(CHUNK)
  const tail = new Tail()
  let no = 0
  let bytes = 0
  // Inside a line past MAX_LINE: everything up to its newline is dropped.
  let skipping = false
  try {
    for (;;) {
      const bytesRead = readSync(fd, buf, 0, CHUNK, null)
      if (bytesRead === 0) break
      bytes += bytesRead
      const chunk = buf.subarray(0, bytesRead)
      let start = bomLeft
      bomLeft = 0
      if (skipping) {
        const nl = chunk.indexOf(NL)
        start = nl === -1 ? bytesRead : nl + 1
        skipping = nl === -1
      }
      const last = chunk.lastIndexOf(NL)
      if (last >= start) {
        // The unfinished line before this chunk and the whole lines in it, as one text.
        const text = tail.size > 0 ? tail.take(chunk.subarray(start, last + 1)) : chunk.toString('utf8', start, last + 1)
        no = eachLine(text, no, MAX_LINE, false, onLine, onTooLong).no
        start = last + 1
      }
      if (start < bytesRead) {
        tail.add(chunk.subarray(start))
        if (tail.chars() > MAX_LINE) {
          onTooLong?.(++no)
          tail.clear()
          skipping = true
        }
      }
      if (afterChunk) {
        // Awaited only when it waits: an await once a chunk made the day-long render slower in alternating runs.
        const wait = afterChunk()
        if (wait) await wait
      }
    }
  } finally {
    closeSync(fd)
  }
  if (tail.size > 0) onTruncated(tail.take(Buffer.alloc(0)), ++no)
  return { lines: no, bytes }
}

/**
 * The bytes of a line not yet ended, copied out of the reused chunk buffer.
 * Its length in characters is counted only once it holds more bytes than a
 * kept line may have characters, and then as it grows.
 */
class Tail {
  #parts: Buffer[] = []
  size = 0
  #decoder: StringDecoder | undefined
  #chars = 0

  add(bytes: Buffer): void {
    const copy = Buffer.from(bytes)
    this.#parts.push(copy)
    this.size += copy.length
    if (this.#decoder) this.#chars += this.#decoder.write(copy).length
    else if (this.size > MAX_LINE) {
      this.#decoder = new StringDecoder('utf8')
      for (const p of this.#parts) this.#chars += this.#decoder.write(p).length
    }
  }

  /** Characters so far, as the line would decode; 0 while it is short enough not to matter. */
  chars(): number {
    return this.#chars
  }

  /** The tail and `more` decoded as one text; the tail is emptied. */
  take(more: Buffer): string {
    const text = Buffer.concat([...this.#parts, more]).toString('utf8')
    this.clear()
    return text
  }

  clear(): void {
    this.#parts = []
    this.size = 0
    this.#decoder = undefined
    this.#chars = 0
  }
}
