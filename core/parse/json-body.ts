/**
 * The /api/ps body in a block: where it starts, where it ends, and what it
 * says. A daemon's log repeats the same body block after block while nothing
 * is loaded or unloaded; a body line for line equal to the last one read is
 * the same models, so it is read once. Pure.
 */
import type { LoadedModel } from '../../schemas/index.js'
import { apiPsBody, JsonCollector } from './sections/ollama.js'
import { amdSmiJson, type AmdSmiJson } from './sections/amd-smi.js'
import type { VmStatMemo } from './sample-fields.js'

/** What a body says: Ollama's loaded models, amd-smi's GPU memory (its `--json`), or why it is neither. */
export type BodyRead = { models: LoadedModel[] } | { amdSmi: AmdSmiJson } | { error: string }

/** A parsed body as what it is: amd-smi's list of GPUs, else `/api/ps`. */
function readParsed(body: unknown): BodyRead {
  const amd = amdSmiJson(body)
  return amd ? { amdSmi: amd } : apiPsBody(body)
}

/** What one block's reading leaves for the next: the last complete body, its lines as collected, and what it read as. */
export interface BlockMemo {
  body?: { lines: string[]; read: BodyRead }
  /** The last block's vm_stat counters: their labels in order, and an object of them to copy. */
  vmStat?: VmStatMemo
}

/**
 * Whether a line opens a JSON body: `{`, or `[` followed by `{`, `"` or `]`
 * (on the line or, for `[` alone, on the next). A shell prompt such as
 * `[me@box ~]$`, a label such as `[running processes]` and `[N/A]` are not.
 */
export function startsJson(t: string, next: string | undefined): boolean {
  if (t[0] === '{') return true
  if (t[0] !== '[') return false
  const rest = t.slice(1).trimStart()
  const c = rest === '' ? next?.trimStart()[0] : rest[0]
  return c === '{' || c === '"' || c === ']'
}

/**
 * The body that opens at lines[i] (`first` is that line trimmed): the index
 * of its last line and what it says, or undefined when it is not closed
 * before the end of the block.
 */
export function readBody(
  lines: readonly { text: string }[],
  i: number,
  first: string,
  memo?: BlockMemo,
): { end: number; read: BodyRead } | undefined {
  const known = memo?.body
  if (known && known.lines[0] === first && i + known.lines.length <= lines.length) {
    let k = 1
    while (k < known.lines.length && (lines[i + k] as { text: string }).text === known.lines[k]) k++
    // The same lines close the same body at the same line: the collector would end there too.
    if (k === known.lines.length) return { end: i + k - 1, read: copy(known.read) }
  }
  // Compact JSON on one line that parses is complete there: its braces balance, so the collector would end on it
  // too, and read the same text. Only a line that ends as a body must is tried, so a failed try stays rare.
  const last = first.charCodeAt(first.length - 1)
  if (last === 125 /* } */ || last === 93 /* ] */) {
    let body: unknown
    let parsed = true
    try {
      body = JSON.parse(first)
    } catch {
      parsed = false
    }
    if (parsed) {
      const read = readParsed(body)
      if (memo) memo.body = { lines: [first], read }
      return { end: i, read: copy(read) }
    }
  }
  const json = new JsonCollector()
  let done = json.push(first)
  let j = i
  while (!done && j + 1 < lines.length) done = json.push((lines[++j] as { text: string }).text)
  if (!done) return undefined
  let read: BodyRead
  try {
    read = readParsed(JSON.parse(json.text))
  } catch (e) {
    read = { error: `not valid JSON (${(e as Error).message})` }
  }
  if (memo) memo.body = { lines: [first, ...lines.slice(i + 1, j + 1).map(l => l.text)], read }
  return { end: j, read: copy(read) }
}

/** Each sample its own list (the models themselves are never changed). */
function copy(read: BodyRead): BodyRead {
  return 'models' in read ? { models: [...read.models] } : read
}
