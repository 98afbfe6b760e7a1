import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'

const CHUNK = 1 << 18
/** The longest line kept; a longer one (no newline in sight) is reported and skipped, so memory stays bounded. */
export const MAX_LINE = 1 << 20

/** Thrown for a path that is not a regular file: a device may never end, a FIFO may never be written. */
export class NotAFile extends Error {}

/**
 * Feeds a file to `onLine` one line at a time (1-based numbers), holding one
 * chunk in memory. A last line without a newline goes to `onTruncated`
 * instead: the writer was cut off there. `afterChunk` lets a consumer drain
 * its own output between chunks (backpressure for `memtrace parse`).
 */
export async function readLines(
  path: string,
  onLine: (line: string, no: number) => void,
  onTruncated: (line: string, no: number) => void,
  afterChunk?: () => Promise<void>,
  onTooLong?: (no: number) => void,
): Promise<{ lines: number; bytes: number }> {
  const st = await stat(path)
  if (st.isDirectory()) throw new NotAFile('is a directory')
  if (!st.isFile()) throw new NotAFile(`${path} is not a regular file (a device or a pipe may never end)`)
  const decoder = new StringDecoder('utf8')
  let rest = ''
  let no = 0
  let bytes = 0
  // Inside a line past MAX_LINE: everything up to its newline is dropped.
  let skipping = false
  const stream = createReadStream(path, { highWaterMark: CHUNK })
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length
    let text = rest + decoder.write(chunk)
    let start = 0
    if (skipping) {
      const nl = text.indexOf('\n')
      if (nl === -1) text = ''
      else {
        skipping = false
        start = nl + 1
      }
    }
    let nl = text.indexOf('\n', start)
    while (nl !== -1) {
      if (nl - start > MAX_LINE) onTooLong?.(++no)
      else onLine(text.slice(start, nl), ++no)
      start = nl + 1
      nl = text.indexOf('\n', start)
    }
    rest = text.slice(start)
    if (rest.length > MAX_LINE) {
      onTooLong?.(++no)
      rest = ''
      skipping = true
    }
    if (afterChunk) await afterChunk()
  }
  rest += decoder.end()
  if (rest.length > 0 && !skipping) onTruncated(rest, ++no)
  return { lines: no, bytes }
}
