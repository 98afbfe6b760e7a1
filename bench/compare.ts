/**
 * `memtrace bench compare A B`: two results side by side (before and after
 * an upgrade, say), each difference marked where it exceeds the run-to-run
 * spread. Pure but for reading the files.
 */
import { readFileSync } from 'node:fs'
import type { BenchStep } from '../schemas/index.js'
import { InputError } from '../core/errors.js'
import { markdownText, oneLine } from '../core/safe-text.js'
import { GIB } from '../core/units.js'
import { BUSY_PCT } from './rules.js'
import { changedHost, why } from './explain.js'

/** Memory and total throughput have no spread within a step: a difference counts from this share on. */
export const SPREADLESS_SHARE = 0.05

export function readResults(path: string): BenchStep[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new InputError(`cannot read ${oneLine(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const steps: BenchStep[] = []
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    let rec: Partial<BenchStep>
    try {
      rec = JSON.parse(line) as Partial<BenchStep>
    } catch {
      throw new InputError(`${oneLine(path)}:${i + 1}: not a JSON line`)
    }
    if (rec.record !== 'bench-step' || typeof rec.step !== 'number') throw new InputError(`${oneLine(path)}:${i + 1}: not a bench-step record (results.jsonl of memtrace bench)`)
    steps.push(rec as BenchStep)
  }
  if (steps.length === 0) throw new InputError(`${oneLine(path)} holds no steps`)
  return steps
}

/** Below this share a difference is never marked: with one request a step (no spread), noise is not news. */
export const MIN_SHARE = 0.02

/** A difference beyond the spread: more than the two standard deviations together, and more than 2 %. */
export function beyondSpread(a: number, sdA: number, b: number, sdB: number): boolean {
  return Math.abs(b - a) > sdA + sdB && Math.abs(b - a) > MIN_SHARE * Math.abs(a)
}

interface Col {
  name: string
  get: (s: BenchStep) => number | undefined
  sd?: (s: BenchStep) => number | undefined
  fmt: (v: number) => string
  /** No spread is recorded for it: a difference counts beyond 5 %. */
  spreadless?: boolean
  /** A speed (or TTFT): a busy host moves it, so it is not judged where either run was busy. */
  speed?: boolean
}

const COLS: Col[] = [
  { name: 'gen t/s', get: s => s.genTps, sd: s => s.genTpsSd, fmt: v => v.toFixed(1), speed: true },
  { name: 'prefill t/s', get: s => s.prefillTps, sd: s => s.prefillTpsSd, fmt: v => v.toFixed(0), speed: true },
  { name: 'TTFT ms', get: s => s.ttftMs, sd: s => s.ttftMsSd, fmt: v => v.toFixed(0), speed: true },
  { name: 'total t/s', get: s => s.totalTps, fmt: v => v.toFixed(1), spreadless: true, speed: true },
  { name: 'RSS peak GiB', get: s => (s.rssPeakBytes === undefined ? undefined : s.rssPeakBytes / GIB), fmt: v => v.toFixed(2), spreadless: true },
]

/** `Ollama 0.11.4 → 0.12.0; memtrace 0.1.0`: the versions of each run, where recorded. */
function versions(a: BenchStep[], b: BenchStep[]): string {
  const one = (name: string, get: (s: BenchStep) => string | undefined) => {
    const x = a.map(get).find(v => v !== undefined)
    const y = b.map(get).find(v => v !== undefined)
    if (x === undefined && y === undefined) return ''
    return x === y ? `${name} ${x}` : `${name} ${x ?? 'not recorded'} → ${y ?? 'not recorded'}`
  }
  return [one('Ollama', s => s.versions?.ollama), one('memtrace', s => s.versions?.memtrace)].filter(Boolean).join('; ')
}

export function compare(a: BenchStep[], b: BenchStep[], names: [string, string]): string {
  const kind = a[0]?.experiment
  if (kind !== b[0]?.experiment) throw new InputError(`one is a ${a[0]?.experiment} sweep, the other a ${b[0]?.experiment} sweep`)
  const cols = COLS.filter(c => [...a, ...b].some(s => c.get(s) !== undefined))
  // Clean runs are matched by model; sweeps by their step.
  const byModel = kind === 'models'
  const key = (s: BenchStep) => (byModel ? s.model : String(s.step))
  const keys = [...new Set([...a, ...b].map(key))]
  if (!byModel) keys.sort((x, y) => Number(x) - Number(y))
  const head = `| ${byModel ? 'model' : kind === 'parallel' ? 'P' : kind === 'num-ctx' ? 'num_ctx' : 'NP'} | ${cols.map(c => `${c.name} A | ${c.name} B | Δ`).join(' | ')} | why |`
  const rule = `|---:|${cols.map(() => '---:|---:|---:').join('|')}|---|`
  const n = { marked: 0, setting: 0, load: 0, single: 0, failed: 0, failedBoth: 0, missing: 0 }
  const rows = keys.map(k => {
    const x = a.find(s => key(s) === k)
    const y = b.find(s => key(s) === k)
    const w = x && y ? why(x, y) : undefined
    const notes: string[] = []
    if (!x || !y) {
      n.missing++
      notes.push(`not in ${!x ? 'A' : 'B'}`)
    }
    if (w?.failed) {
      n.failed++
      if (w.failedBoth) n.failedBoth++
      notes.push(`✕ failed: ${markdownText(w.failed)}`)
    }
    if (w?.setting.length) notes.push(`changed: ${markdownText(w.setting.join(', '))}`)
    if (w?.load) notes.push(`busy host (${w.load}): speeds not judged`)
    if (w?.single) notes.push('one request a step: nothing judged')
    const cells = cols.map(c => {
      const va = x ? c.get(x) : undefined
      const vb = y ? c.get(y) : undefined
      if (va === undefined || vb === undefined) return `${va === undefined ? '–' : c.fmt(va)} | ${vb === undefined ? '–' : c.fmt(vb)} | `
      const d = vb - va
      const pct = va !== 0 ? ` (${d >= 0 ? '+' : '−'}${Math.abs((d / va) * 100).toFixed(0)}%)` : ''
      const sa = x && c.sd ? c.sd(x) : undefined
      const sb = y && c.sd ? c.sd(y) : undefined
      const beyond = c.spreadless ? Math.abs(d) > SPREADLESS_SHARE * Math.abs(va) : sa !== undefined && sb !== undefined && beyondSpread(va, sa, vb, sb)
      // Explained before it is called a change: a changed setting or host, then a busy host; with one request a step nothing is marked (no spread to judge by).
      const reason = !beyond ? undefined : w?.setting.length ? 'setting' : c.speed && w?.load ? 'load' : w?.single ? 'single' : 'marked'
      if (reason) n[reason]++
      const tag = reason === 'setting' || reason === 'load' ? ` (${reason})` : reason === 'marked' ? ' ⚠' : ''
      return `${c.fmt(va)} | ${c.fmt(vb)} | ${d >= 0 ? '+' : '−'}${c.fmt(Math.abs(d))}${pct}${tag}`
    })
    return `| ${byModel ? markdownText(k) : k} | ${cells.join(' | ')} | ${notes.join('; ')} |`
  })
  const aHost = a.find(s => s.host)?.host
  const bHost = b.find(s => s.host)?.host
  const hostChange = changedHost(aHost, bHost)
  const v = versions(a, b)
  const explained = [
    n.setting ? `${n.setting} explained by a changed setting or host (marked "setting")` : '',
    n.load ? `${n.load} by a busy host (marked "load": others used more than ${BUSY_PCT} % of the CPU in A or B, so speeds are not judged)` : '',
    n.single ? `${n.single} not judged for want of a spread (one request a step)` : '',
  ].filter(Boolean)
  return `${[
    `# memtrace bench compare: ${markdownText(a[0]?.model ?? '')}${b[0]?.model !== a[0]?.model ? ` and ${markdownText(b[0]?.model ?? '')}` : ''}`,
    '',
    `A: ${markdownText(names[0])}  `,
    `B: ${markdownText(names[1])}`,
    ...(v ? ['', `Versions: ${markdownText(v)}.`] : []),
    ...(hostChange.length ? ['', `Another host: ${markdownText(hostChange.join(', '))}: every difference may be the host's.`] : []),
    '',
    head,
    rule,
    ...rows,
    '',
    `⚠ marks ${n.marked} difference${n.marked === 1 ? '' : 's'} beyond the run-to-run spread that nothing else explains: for per-request speeds and TTFT, more than the two standard deviations together; for memory and total throughput, which have no spread within a step, more than ${SPREADLESS_SHARE * 100} %. Differences under ${MIN_SHARE * 100} % are never marked.${explained.length ? ` Beyond the spread but not called a change: ${explained.join('; ')}.` : ''}`,
    ...(n.failed ? [`✕ ${n.failed} step${n.failed === 1 ? '' : 's'} failed (${n.failed - n.failedBoth} in one run, ${n.failedBoth} in both): nothing to set against ${n.failed === 1 ? 'it' : 'them'}.`] : []),
    ...(n.missing ? [`${n.missing} step${n.missing === 1 ? '' : 's'} ran in one run only.`] : []),
  ].join('\n')}\n`
}
