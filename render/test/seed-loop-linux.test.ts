/**
 * The seed loop as a Linux user adapts it (free -h, /proc/pressure/memory,
 * swapon --show, nvidia-smi, ollama ps, /api/ps), recorded on this machine
 * by samples/seed-loop-linux/record.sh, rendered the way a user would.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { parseSvg } from './xml.js'

const DIR = join(ROOT, 'samples', 'seed-loop-linux')
const LOG = join(DIR, readdirSync(DIR).find(f => f.startsWith('system-') && f.endsWith('.log')) as string)
const TSV = join(DIR, readdirSync(DIR).find(f => f.endsWith('.tsv')) as string)
const BINARY: Record<string, number> = { B: 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }

t.test('every line of the loop is read: nothing skipped', async t => {
  const r = memtrace(['parse', TSV, LOG])
  t.equal(r.code, 0, r.stderr)
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
  t.same(records.filter(x => x.record === 'problem'), [], 'no problem records')
  const sys = records.filter(x => x.record === 'system-sample')
  t.ok(sys.length >= 10, `${sys.length} system samples`)
  for (const s of sys) t.same(s.sections, ['free', 'psi', 'swaps', 'nvidia-smi', 'ollama-ps', 'api-ps'].filter(n => (s.sections as string[]).includes(n)), 'sections in the loop order')
  // free -h's available column, read here by hand, is the sample's available figure.
  const blocks = readFileSync(LOG, 'utf8').split(/^===== .* =====$/m).slice(1)
  blocks.forEach((b, i) => {
    const cells = /^Mem:\s+(.*)$/m.exec(b)?.[1]?.trim().split(/\s+/) ?? []
    const m = /^([\d.]+)(B|Ki|Mi|Gi)$/.exec(cells[5] ?? '')
    t.ok(m, `block ${i}: an available cell`)
    if (m) t.equal(sys[i]?.availableBytes, Math.round(Number(m[1]) * (BINARY[m[2] as string] as number)), `block ${i}: available as free printed it`)
  })
  const gpuBlocks = sys.filter(s => Array.isArray(s.gpuProcesses) && (s.gpuProcesses as { type: string }[]).some(p => p.type === 'C'))
  t.ok(gpuBlocks.length > 0, 'nvidia-smi listed a runner holding GPU memory')
})

t.test('the system panel shows used and available, swap, PSI and GPU memory', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', '--dir', DIR, '-o', out, '--tz', 'UTC', '--json'])
  t.equal(r.code, 0, r.stderr)
  const doc = parseSvg(readFileSync(out, 'utf8'))
  const series = Array.from(doc.querySelectorAll('path.sys-series'))
  const drawn = new Set(series.filter(p => ((p.getAttribute('d') ?? '').match(/[ML]/g) ?? []).length > 5).map(p => p.getAttribute('data-series')))
  for (const s of ['used', 'available', 'swap-used', 'psi', 'gpu-used', 'gpu-total']) t.ok(drawn.has(s), `${s} drawn`)
  const legend = Array.from(doc.querySelectorAll('.legend-system text')).map(e => e.textContent ?? '')
  for (const label of ['used (total − available)', 'swap used', 'memory pressure (PSI some avg10 %), right axis', 'GPU 0 used']) t.ok(legend.includes(label), `legend: ${label}`)
  t.notOk(legend.includes('no swap'), 'the swap file is there')
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { record: string; kind?: string; text?: string; pid?: number; gpuBytes?: number })
  t.ok(doc.querySelectorAll('rect.runner-overlap').length > 0, 'the switch is drawn')
  t.notOk(records.some(f => f.record === 'finding' && f.kind === 'runner-overlap'), 'available memory stayed over 90%: the overlap is no headline')
  t.notOk(records.some(f => f.record === 'finding' && f.kind === 'claim-vs-measured'), "1.2 GiB RSS for a model all on the GPU is a CUDA runner's runtime: no finding")
  const runners = records.filter(x => x.record === 'runner-memory')
  t.ok(runners.length === 2 && runners.every(x => (x.gpuBytes ?? 0) > 0), 'each runner is tied to its own GPU memory by its PID')
})
