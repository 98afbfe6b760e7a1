/**
 * Hands each line of `text` that a newline ends to `onLine` (numbered on from
 * `no`), or its number to `onTooLong` past `maxLine` characters; with
 * `skipFirst`, the first is the end of a line already reported too long.
 * Returns the last number given and where the unended rest of `text` begins.
 */
export function eachLine(
  text: string,
  no: number,
  maxLine: number,
  skipFirst: boolean,
  onLine: (line: string, no: number) => void,
  onTooLong?: (no: number) => void,
): { no: number; rest: number } {
  let from = 0
  let skip = skipFirst
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
    if (skip) skip = false
    else if (nl - from > maxLine) onTooLong?.(++no)
    else onLine(text.slice(from, nl), ++no)
    from = nl + 1
  }
  return { no, rest: from }
}
