/** Parsers for what Ollama says is loaded: the `ollama ps` table and `/api/ps` JSON. */
import type { LoadedModel } from '../../../schemas/index.js'

const PS_HEADER_RE = /^\s*NAME\s+ID\s+SIZE(?:\s|$)/
const CELL_SPLIT_RE = /\t+\s*|\s{2,}/
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)$/
const DECIMAL: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }
const FOREVER_YEAR = 2100
/** A name, then somewhere a size as HumanBytes prints it: a row, even when its cells cannot be cut. */
const ROW_LIKE_RE = /^\s*\S+\s.*\b\d+(?:\.\d+)? (?:B|KB|MB|GB|TB)\b/

/** The columns of an `ollama ps` header: names, and where each starts in the line. */
export interface PsColumns {
  names: string[]
  starts: number[]
}

/** Column names of an `ollama ps` header line (any version) and their offsets, or undefined. */
export function ollamaPsHeader(line: string): PsColumns | undefined {
  // `ollama list` (models on disk) has the same first columns, then MODIFIED and no UNTIL.
  if (!line.includes('NAME') || !PS_HEADER_RE.test(line) || !/\sUNTIL\b/.test(line)) return undefined
  const names: string[] = []
  const starts: number[] = []
  for (const m of line.matchAll(/\S+/g)) {
    names.push(m[0])
    starts.push(m.index)
  }
  return { names, starts }
}

/** The header of `ollama list`: the models on disk, not what is loaded. */
export function isOllamaListHeader(line: string): boolean {
  return line.includes('NAME') && /^\s*NAME\s+ID\s+SIZE\s+MODIFIED\s*$/.test(line)
}

/** A row of `ollama list` (or of a table like it): a name, then a size somewhere. */
export function isRowLike(line: string): boolean {
  return ROW_LIKE_RE.test(line)
}

/** `9.6 GB` (decimal units, as Ollama's HumanBytes prints) → bytes. */
export function parseHumanBytes(text: string): number | undefined {
  const m = SIZE_RE.exec(text.trim())
  return m ? Math.round(Number(m[1]) * (DECIMAL[m[2] as string] ?? 1)) : undefined
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t'

/**
 * The cells of a row, cut where the header's columns start. The table pads
 * each column to its widest cell, so a row's cells start where the header's
 * names do, even when only one space (or one tab) separates a full-width cell
 * from the next. Where the row does not line up (a pasted table that lost its
 * padding), cells are split on runs of spaces or tabs instead.
 */
export function psCells(line: string, cols: PsColumns): string[] {
  const { starts } = cols
  const lined = starts.every((s, i) => !isSpace(line[s]) && s < line.length && (i === 0 ? line.slice(0, s).trim() === '' : isSpace(line[s - 1])))
  if (!lined) return line.trim().split(CELL_SPLIT_RE)
  return starts.map((s, i) => line.slice(s, starts[i + 1] ?? line.length).trim())
}

/** One data row of `ollama ps`, mapped by the header's column names; why not, when it is no row. */
export function ollamaPsRow(line: string, cols: PsColumns): LoadedModel | string | undefined {
  const cells = psCells(line, cols)
  const columns = cols.names
  const get = (name: string) => {
    const i = columns.indexOf(name)
    return i >= 0 ? cells[i] : undefined
  }
  const name = get('NAME')
  const size = parseHumanBytes(get('SIZE') ?? '')
  // Cells that do not line up with the header would put one column's text in another.
  const lined = cells.length === columns.length && name && size !== undefined
  if (!lined) return ROW_LIKE_RE.test(line) ? 'ollama ps row whose cells do not line up with its header; skipped' : undefined
  const model: LoadedModel = { source: 'ollama-ps', name, sizeBytes: size }
  const id = get('ID')
  if (id) model.digest = id
  const processor = get('PROCESSOR')
  if (processor) {
    model.processor = processor
    const vram = vramFromProcessor(processor, size)
    if (vram !== undefined) model.sizeVramBytes = vram
  }
  const context = get('CONTEXT')
  if (context && /^\d+$/.test(context)) model.contextLength = Number(context)
  const until = get('UNTIL')
  if (until) {
    model.until = until
    if (until === 'Forever') model.forever = true
  }
  return model
}

/** The GPU share implied by PROCESSOR (`100% GPU`, `48%/52% CPU/GPU`, `100% CPU`). */
function vramFromProcessor(p: string, size: number): number | undefined {
  if (p === '100% GPU') return size
  if (p === '100% CPU') return 0
  const m = /^(\d+)%\/(\d+)% CPU\/GPU$/.exec(p)
  return m ? Math.round((size * Number(m[2])) / 100) : undefined
}

/**
 * Tracks JSON text spread over several lines (jq pretty-prints): reports when
 * the braces balance, ignoring braces inside strings.
 */
export class JsonCollector {
  #depth = 0
  #inString = false
  #escape = false
  #parts: string[] = []

  /** Adds a line; true when the value is complete. */
  push(line: string): boolean {
    this.#parts.push(line)
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i)
      if (this.#inString) {
        if (this.#escape) this.#escape = false
        else if (c === 92) this.#escape = true
        else if (c === 34) this.#inString = false
      } else if (c === 34) this.#inString = true
      else if (c === 123 || c === 91) this.#depth++
      else if (c === 125 || c === 93) this.#depth--
    }
    return this.#depth <= 0
  }

  get text(): string {
    return this.#parts.join('\n')
  }
}

/** The models of an already parsed `/api/ps` body, or a reason it is not one. */
export function apiPsBody(body: unknown): { models: LoadedModel[] } | { error: string } {
  if (!isObject(body) || !Array.isArray(body.models)) {
    if (isObject(body) && typeof body.error === 'string') return { error: `server said: ${body.error}` }
    return { error: 'JSON without a "models" list' }
  }
  const models: LoadedModel[] = []
  for (const m of body.models) {
    const model = apiModel(m)
    if (!model) return { error: 'a model entry lacks name or size' }
    models.push(model)
  }
  return { models }
}

function apiModel(m: unknown): LoadedModel | undefined {
  if (!isObject(m)) return undefined
  const name = typeof m.name === 'string' ? m.name : typeof m.model === 'string' ? m.model : undefined
  if (name === undefined || typeof m.size !== 'number' || m.size < 0) return undefined
  // A name longer than any registry allows is cut: memory stays bounded on any input.
  const out: LoadedModel = { source: 'api-ps', name: name.slice(0, 512), sizeBytes: m.size }
  if (typeof m.digest === 'string') out.digest = m.digest
  if (typeof m.size_vram === 'number' && m.size_vram >= 0) out.sizeVramBytes = m.size_vram
  if (typeof m.context_length === 'number' && m.context_length >= 0) out.contextLength = m.context_length
  if (typeof m.expires_at === 'string') {
    out.expiresAt = m.expires_at
    const year = Number(m.expires_at.slice(0, 4))
    if (year > FOREVER_YEAR) out.forever = true
  }
  const d = m.details
  if (isObject(d)) {
    if (typeof d.format === 'string' && d.format) out.format = d.format
    if (typeof d.family === 'string' && d.family) out.family = d.family
    if (typeof d.parameter_size === 'string' && d.parameter_size) out.parameterSize = d.parameter_size
    if (typeof d.quantization_level === 'string' && d.quantization_level) out.quantization = d.quantization_level
  }
  return out
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
