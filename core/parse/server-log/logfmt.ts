/**
 * The `key=value` pairs of Go's structured text logger (slog's text
 * handler, which Ollama uses): a value, or a key, with spaces or quotes is
 * quoted as Go quotes strings (`"…"` with backslash escapes).
 */

export interface Pairs {
  fields: Map<string, string>
  /** The line ends in a word with no `=`: a key cut off (a truncated paste). */
  cut: boolean
}

/** The pairs of one line, in order; a key given twice keeps its first value. Undefined when a quote never closes (a line cut or wrapped). */
export function logfmt(line: string): Pairs | undefined {
  const out = new Map<string, string>()
  let i = 0
  const n = line.length
  let cut = false
  while (i < n) {
    while (i < n && line[i] === ' ') i++
    if (i >= n) break
    let key: string
    if (line[i] === '"') {
      // A quoted key (`"loaded layers"=0`).
      const end = closingQuote(line, i + 1)
      if (end < 0) return undefined
      key = unquote(line.slice(i + 1, end))
      i = end + 1
      if (line[i] !== '=') continue
    } else {
      const eq = line.indexOf('=', i)
      const space = line.indexOf(' ', i)
      // A word without `=` (free text): skip it, and remember whether it was the last.
      if (eq < 0 || (space >= 0 && space < eq)) {
        cut = space < 0 || line.slice(space).trim() === ''
        if (space < 0) break
        i = space + 1
        continue
      }
      key = line.slice(i, eq)
      i = eq
    }
    i++
    cut = false
    let value: string
    if (line[i] === '"') {
      const end = closingQuote(line, i + 1)
      if (end < 0) return undefined
      value = unquote(line.slice(i + 1, end))
      i = end + 1
    } else {
      const end = line.indexOf(' ', i)
      value = end < 0 ? line.slice(i) : line.slice(i, end)
      i = end < 0 ? n : end
    }
    if (!out.has(key)) out.set(key, value)
  }
  return { fields: out, cut }
}

/** Whether a line has a quote opened and never closed: its value goes on on the next line. */
export function opensQuote(line: string): boolean {
  let i = line.indexOf('"')
  while (i >= 0) {
    const end = closingQuote(line, i + 1)
    if (end < 0) return true
    i = line.indexOf('"', end + 1)
  }
  return false
}

function closingQuote(line: string, from: number): number {
  for (let j = from; j < line.length; j++) {
    if (line[j] === '\\') j++
    else if (line[j] === '"') return j
  }
  return -1
}

function unquote(text: string): string {
  return text.indexOf('\\') < 0 ? text : text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c))
}
