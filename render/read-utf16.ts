/**
 * A trace file in UTF-16 LE with its byte-order mark, as Windows PowerShell 5
 * writes with `>` or `Out-File`: read in chunks and decoded, one line at a
 * time by the same loop as `readLines` uses for UTF-8 (CRLF ends are left
 * to the parsers, which take a line's `\r` off).
 */
import { readSync } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import { eachLine } from './each-line.js'

const CHUNK = 1 << 15

export async function readUtf16Lines(
  fd: number,
  maxLine: number,
  onLine: (line: string, no: number) => void,
  onTruncated: (line: string, no: number) => void,
  afterChunk?: () => Promise<void> | void,
  onTooLong?: (no: number) => void,
): Promise<{ lines: number; bytes: number }> {
  const buf = Buffer.allocUnsafe(CHUNK)
  const decoder = new StringDecoder('utf16le')
  let no = 0
  let bytes = 0
  let rest = ''
  let skipping = false
  let position = 2 // after the byte-order mark
  for (;;) {
    const n = readSync(fd, buf, 0, CHUNK, position)
    if (n === 0) break
    position += n
    bytes += n
    const text = rest + decoder.write(buf.subarray(0, n))
    const done = eachLine(text, no, maxLine, skipping, onLine, onTooLong)
    // A newline in this chunk ends the line being skipped.
    if (done.rest > 0) skipping = false
    no = done.no
    rest = text.slice(done.rest)
    if (rest.length > maxLine) {
      if (!skipping) onTooLong?.(++no)
      skipping = true
      rest = ''
    }
    if (afterChunk) {
      // Awaited only when it waits: an await once a chunk made the day-long render slower in alternating runs.
      const wait = afterChunk()
      if (wait) await wait
    }
  }
  rest += decoder.end()
  if (rest.length > 0 && !skipping) onTruncated(rest, ++no)
  return { lines: no, bytes: bytes + 2 }
}
