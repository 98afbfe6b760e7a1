import { createReadStream } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'

const CHUNK = 1 << 18

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
): Promise<{ lines: number; bytes: number }> {
  const decoder = new StringDecoder('utf8')
  let rest = ''
  let no = 0
  let bytes = 0
  const stream = createReadStream(path, { highWaterMark: CHUNK })
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytes += chunk.length
    const text = rest + decoder.write(chunk)
    let start = 0
    let nl = text.indexOf('\n')
    while (nl !== -1) {
      onLine(text.slice(start, nl), ++no)
      start = nl + 1
      nl = text.indexOf('\n', start)
    }
    rest = text.slice(start)
    if (afterChunk) await afterChunk()
  }
  rest += decoder.end()
  if (rest.length > 0) onTruncated(rest, ++no)
  return { lines: no, bytes }
}
