/**
 * `ollama ps` tables as the table library pads them and as terminals and
 * pastes change them: tabs or two to four spaces between cells, one space
 * after a cell as wide as its column, tabs expanded to 4 or 8 columns, a
 * leading space, trailing spaces cut. Name, size, processor, context and
 * until must never change.
 */
import t from 'tap'
import { block, rng } from './helpers.js'

const NAMES = ['llama3.2:3b', 'qwen3-coder:30b', 'nomic-embed-text:latest', 'gpt-oss:20b', 'hf.co/unsloth/Qwen3-30B-A3B-GGUF:Q4_K_M', 'x:1']
const SIZES: [string, number][] = [['19 GB', 19e9], ['2.8 GB', 2.8e9], ['849 MB', 849e6], ['5.1 GB', 5.1e9], ['112 GB', 112e9], ['512 KB', 512e3]]
const PROCESSORS = ['100% GPU', '100% CPU', '25%/75% CPU/GPU', '48%/52% CPU/GPU', '3%/97% CPU/GPU', 'Unknown']
const UNTILS = ['Forever', 'Stopping...', '3 minutes from now', 'About a minute from now', 'Less than a second from now', '23 hours from now']

interface Row {
  name: string
  id: string
  size: [string, number]
  processor: string
  context: string
  until: string
}

function layout(rows: Row[], withContext: boolean, r: () => number): string {
  const head = withContext ? ['NAME', 'ID', 'SIZE', 'PROCESSOR', 'CONTEXT', 'UNTIL'] : ['NAME', 'ID', 'SIZE', 'PROCESSOR', 'UNTIL']
  const cells = [head, ...rows.map(x => (withContext ? [x.name, x.id, x.size[0], x.processor, x.context, x.until] : [x.name, x.id, x.size[0], x.processor, x.until]))]
  const widths = head.map((_, i) => Math.max(...cells.map(c => (c[i] as string).length)))
  const style = Math.floor(r() * 4) // 0: four spaces, 1: one space, 2: literal tabs, 3: tabs expanded
  const pad = style === 0 ? '    ' : style === 1 ? ' ' : '\t'
  const tabWidth = r() < 0.5 ? 8 : 4
  const lead = r() < 0.3 ? ' ' : ''
  const lines = cells.map((c, j) => {
    let line = lead + c.map((x, i) => x.padEnd(widths[i] as number) + (j === 0 && i === c.length - 1 ? ' ' : pad)).join('')
    if (style === 3) line = expand(line, tabWidth)
    if (r() < 0.4) line = line.trimEnd() // a terminal copy drops trailing spaces
    return line
  })
  return lines.join('\n')
}

function expand(line: string, width: number): string {
  let out = ''
  for (const ch of line) out += ch === '\t' ? ' '.repeat(width - (out.length % width)) : ch
  return out
}

t.test('a thousand tables, every layout: every cell read as printed', async t => {
  const r = rng(20261123)
  let checked = 0
  for (let k = 0; k < 1000; k++) {
    const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)] as T
    const rows: Row[] = Array.from({ length: 1 + Math.floor(r() * 4) }, () => ({
      name: pick(NAMES),
      id: Math.floor(r() * 2 ** 48).toString(16).padStart(12, '0'),
      size: pick(SIZES),
      processor: pick(PROCESSORS),
      context: String(pick([2048, 4096, 8192, 32768, 131072, 262144])),
      until: pick(UNTILS),
    }))
    const withContext = r() < 0.7
    const text = layout(rows, withContext, r)
    const { sample, problems } = block(text)
    const got = sample.cliModels ?? []
    const same =
      problems.total === 0 &&
      got.length === rows.length &&
      rows.every((x, i) => {
        const m = got[i]
        return m?.name === x.name && m.digest === x.id && m.sizeBytes === x.size[1] && m.processor === x.processor && m.until === x.until && m.contextLength === (withContext ? Number(x.context) : undefined)
      })
    if (!same) {
      t.fail(`table ${k} misread`, { text, got, problems: problems.summary() })
      return
    }
    checked++
  }
  t.equal(checked, 1000)
})
