/**
 * What `ollama ps` prints, laid out as Ollama's table library lays it out
 * (v0.10+: CONTEXT column, four-space padding; the notes on `ollama ps`).
 * Used by the stand-in's `ollama ps` and by the sample traces.
 */
const pad = (s: string | number, n: number) => String(s).padEnd(n)

export interface Loaded {
  name: string
  digest: string
  size: number
  sizeVram: number
  context: number
  family: string
  parameterSize: string
  quant: string
  expiresAt: string
  until: string
}

/** Ollama's HumanBytes: decimal units, truncated at ≥ 10, one decimal below. */
export function humanBytes(b: number): string {
  const units: [number, string][] = [[1e12, 'TB'], [1e9, 'GB'], [1e6, 'MB'], [1e3, 'KB']]
  for (const [f, u] of units) {
    if (b >= f) {
      const v = b / f
      if (v >= 10) return `${Math.trunc(v)} ${u}`
      return Number.isInteger(v) ? `${v} ${u}` : `${v.toFixed(1)} ${u}`
    }
  }
  return `${b} B`
}

function processor(m: Loaded): string {
  if (m.sizeVram === 0) return '100% CPU'
  if (m.sizeVram === m.size) return '100% GPU'
  const cpu = Math.round(((m.size - m.sizeVram) / m.size) * 100)
  return `${cpu}%/${100 - cpu}% CPU/GPU`
}

/** `ollama ps` as tablewriter lays it out (v0.10+: CONTEXT column, 4-space padding). */
export function ollamaPs(models: Loaded[], withContext = true, sep = '    '): string {
  const header = withContext ? ['NAME', 'ID', 'SIZE', 'PROCESSOR', 'CONTEXT', 'UNTIL'] : ['NAME', 'ID', 'SIZE', 'PROCESSOR', 'UNTIL']
  const rows = models.map(m => {
    const r = [m.name, m.digest.slice(0, 12), humanBytes(m.size), processor(m)]
    if (withContext) r.push(String(m.context))
    r.push(m.until)
    return r
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] as string).length)))
  const line = (cells: string[], last: string) => cells.map((c, i) => (i === cells.length - 1 ? `${pad(c, widths[i] as number)}${last}` : `${pad(c, widths[i] as number)}${sep}`)).join('')
  return [line(header, ' '), ...rows.map(r => line(r, sep))].join('\n') + '\n'
}

