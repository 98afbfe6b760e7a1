import t from 'tap'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { loadTrace } from '../load.js'
import { findFindings } from '../findings/findings.js'
import { TraceBuilder } from '../model/trace.js'
import { nameRunners } from '../model/names.js'
import { findingSchema } from '../../schemas/index.js'
import { memtrace, parseProc, parseSys, ROOT } from './helpers.js'

const O = { zone: 'UTC', lowFreePct: 30 }
const kinds = (fs: { kind: string }[]) => fs.map(f => f.kind)

async function sample(name: string) {
  const d = join(ROOT, 'samples', name)
  const { readdirSync } = await import('node:fs')
  const files = readdirSync(d)
  const { trace } = await loadTrace(join(d, files.find(f => f.endsWith('.tsv'))!), join(d, files.find(f => f.endsWith('.log'))!))
  return findFindings(trace, O)
}

function build(proc: string, sys: string) {
  const b = new TraceBuilder()
  for (const r of parseProc(proc).rows) b.addProc(r)
  for (const blk of parseSys(sys).blocks) b.addSystem(blk)
  const trace = b.finish()
  nameRunners(trace)
  return findFindings(trace, O)
}

const H = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
const ts = (s: number) => new Date(Date.UTC(2026, 1, 25, 14, 0, s)).toISOString().replace('.000', '')
const runner = (m: string) => `ollama runner --mlx-engine --model ${m} --port 1`
const block = (s: number, body: string) => `===== ${ts(s)} =====\n${body}\n`
const mp = (pct: number) => `The system has 34359738368 (2097152 pages with a page size of 16384).\nSystem-wide memory free percentage: ${pct}%\n`
const api = (models: [string, number][]) => JSON.stringify({ models: models.map(([name, size]) => ({ name, model: name, size, digest: 'd', details: {}, expires_at: '2026-02-25T14:30:00Z', size_vram: size, context_length: 4096 })) })

t.test('the macOS model switch: overlap, low free memory, wired jumps, compressor and swap, both claims', async t => {
  const f = await sample('mac-model-switch')
  t.same(kinds(f).sort(), ['claim-vs-measured', 'claim-vs-measured', 'low-free', 'pressure-after-low-free', 'runner-overlap', 'wired-jump', 'wired-jump'])
  const ov = f.find(x => x.kind === 'runner-overlap')!
  t.same(ov.pids, [4412, 5120])
  t.same(ov.models, ['qwen2.5-coder:7b', 'qwen3-coder:30b'])
  t.match(ov.text, /^At 14:09:45, runner PID 4412 for qwen2\.5-coder:7b was still alive while runner PID 5120 for qwen3-coder:30b started\. They ran together for 1 min 06 s, holding 24\.\d GiB RSS combined at the peak\. During that interval free memory was down to \d+%, wired memory was [\d.]+ GiB, compressor was [\d.]+ GiB, and swap used was [\d.]+ GiB\. \/api\/ps listed qwen3-coder:30b \(19\.4 GB\), qwen2\.5-coder:7b \(5\.4 GB\)\.$/)
  const low = f.find(x => x.kind === 'low-free')!
  t.match(low.text, /^From 14:10:00 to .* free memory was under 30%, lowest \d+% at .*, with qwen2\.5-coder:7b \(pid 4412\) and qwen3-coder:30b \(pid 5120\) loaded\./)
})

t.test('the Linux container: no overlap, no low free memory; the server failing once', async t => {
  const f = await sample('linux-nvidia-container')
  t.notOk(kinds(f).includes('runner-overlap'))
  t.notOk(kinds(f).includes('low-free'))
  const s = f.find(x => x.kind === 'server-unanswered')!
  t.match(s.text, /^The Ollama server did not answer at 09:09:00: Error: 500 .*signal: killed$/)
})

t.test('a calm trace has no finding', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  for (let s = 0; s < 60; s += 5) sys += block(s, mp(70))
  t.same(build(p, sys), [])
})

t.test('low free fires under the threshold only', async t => {
  let sys = ''
  ;[50, 40, 25, 20, 28, 35].forEach((v, i) => (sys += block(i * 5, mp(v))))
  const f = build(H, sys)
  t.same(kinds(f), ['low-free'])
  t.match(f[0]!.text, /^From 14:00:10 to 14:00:25 \(15 s\) free memory was under 30%, lowest 20% at 14:00:15, with no model runner alive\./)
  t.equal(f[0]!.figures?.lowestFreePct, 20)
})

t.test("Ollama's claim: fires with /api/ps, not without it", async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 20; s++) p += `${ts(s)}\t11\t10\tollama\t${s < 3 ? 100000 : 6_000_000}\t1\t${runner('qwen3:8b')}\n`
  for (let s = 0; s < 20; s += 5) sys += block(s, api([['qwen3:8b', 5e9]]))
  const f = build(p, sys)
  t.same(kinds(f), ['claim-vs-measured'])
  t.match(f[0]!.text, /^runner PID 11 for qwen3:8b peaked at 5\.7 GiB RSS; Ollama said 4\.7 GiB, 4\.7 GiB of it on the GPU, context 4096: measured 23% above Ollama's figure\.$/)
  t.same(build(p, ''), [], 'no /api/ps: nothing to compare')
})

t.test('gaps: a hole in the system samples and ticks the daemon skipped; a restart', async t => {
  let sys = ''
  for (const s of [0, 5, 10, 40, 45]) sys += block(s, mp(60))
  const f = build(H, sys)
  t.same(kinds(f), ['gap'])
  t.match(f[0]!.text, /^No samples from 14:00:10 to 14:00:40 \(30 s\)/)
  const skipped = build(H, block(0, `memtrace start {"version":"0.1.0"}\n${mp(60)}`) + block(5, `memtrace missed {"ts":"${ts(4)}","source":"process","ticks":3}\n${mp(60)}`) + block(10, `memtrace start {"version":"0.1.0"}\n${mp(60)}`))
  t.same(kinds(skipped), ['gap', 'daemon-restart'])
  t.match(skipped[0]!.text, /memtrace skipped 3 process samples/)
})

t.test('render --json prints findings that validate; --report writes the Markdown', async t => {
  const dir = t.testdir({})
  const d = join(ROOT, 'samples', 'mac-model-switch')
  const args = ['render', '--dir', d, '-o', join(dir, 'c.svg'), '--tz', 'UTC']
  const r = memtrace([...args, '--json', '--report', join(dir, 'r.md')])
  t.equal(r.code, 0, r.stderr)
  const validate = new Ajv({ strict: true }).compile(findingSchema)
  const lines = r.stdout.trim().split('\n')
  t.equal(lines.length, 7)
  for (const l of lines) t.ok(validate(JSON.parse(l)), l.slice(0, 80))
  const { readFileSync } = await import('node:fs')
  const md = readFileSync(join(dir, 'r.md'), 'utf8')
  t.match(md, /^## Memory trace \(memtrace\)\n\n- Host memory: 32\.0 GiB \(macos\)\n/)
  t.match(md, /\| qwen3-coder:30b \| 5120 \| 2026-02-25 14:09:45 \| 2026-02-25 14:17:59 \| 19\.\d\d GiB \| 19\.4 GB \|/)
  t.match(md, /### Markers\n\n- 2026-02-25 14:03:58: ollama run qwen2\.5-coder:7b\n- 2026-02-25 14:09:43: switch to qwen3-coder:30b/)
  t.match(md, /```\nmemtrace render --dir .* --json --report .*\n```/)
  const svg = readFileSync(join(dir, 'c.svg'), 'utf8')
  t.match(svg, /<desc>[^<]*What happened:\n[^<]*At 14:09:45, runner PID 4412/, 'the findings are in the SVG too')
  const marks = [...svg.matchAll(/<g class="finding" data-n="\d+" data-kind="([a-z-]+)" data-start="([^"]+)" data-end="([^"]+)"><title>/g)].map(m => [m[1], m[2], m[3]])
  t.equal(marks.length, lines.length, 'each finding is marked on the chart')
  t.ok(marks.some(([k, s, e]) => k === 'runner-overlap' && s === '2026-02-25T14:09:45Z' && e === '2026-02-25T14:10:50Z'))
})

const vm = (wiredGiB: number, compressorGiB: number) =>
  `Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages wired down: ${Math.round((wiredGiB * 1024 ** 3) / 16384)}.\nPages occupied by compressor: ${Math.round((compressorGiB * 1024 ** 3) / 16384)}.\n`
const swap = (gb: number) => `vm.swapusage: total = 4096.00M  used = ${(gb * 1024).toFixed(2)}M  free = 0.00M  (encrypted)\n`

t.test('wired memory jumping at a model load: fires on a jump, not on a flat line', async t => {
  let p = H
  let sys = ''
  for (let s = 20; s < 60; s++) p += `${ts(s)}\t11\t10\tollama\t5000000\t1\t${runner('qwen3:8b')}\n`
  for (let s = 0; s < 60; s += 5) sys += block(s, vm(s < 20 ? 3 : 8, 0.5) + mp(60))
  const f = build(p, sys)
  t.same(kinds(f), ['wired-jump'])
  t.match(f[0]!.text, /^Wired memory rose from 3\.0 GiB to 8\.0 GiB \(\+5\.0 GiB\) by 14:00:20, as runner PID 11 for qwen3:8b started at 14:00:20\.$/)
  const flat = sys.replace(/Pages wired down: \d+\./g, 'Pages wired down: 196608.')
  t.same(build(p, flat), [])
})

t.test('compressor and swap after low free memory: grown and not back; and a dip that cost nothing', async t => {
  let sys = ''
  const pct = [60, 60, 20, 20, 60, 60, 60]
  pct.forEach((v, i) => (sys += block(i * 5, vm(3, i < 2 ? 0.5 : 3) + swap(i < 2 ? 0 : 2) + mp(v))))
  const f = build(H, sys)
  t.same(kinds(f), ['low-free', 'pressure-after-low-free'])
  t.match(f[1]!.text, /^After free memory fell under 30% at 14:00:10, the compressor grew from 0\.5 GiB to 3\.0 GiB, and swap used grew from 0\.0 GiB to 2\.0 GiB; at the end of the trace \(14:00:30\) the compressor was at 3\.0 GiB \(not given back\), and swap used was at 2\.0 GiB \(not given back\)\.$/)
  let calm = ''
  pct.forEach((v, i) => (calm += block(i * 5, vm(3, 0.5) + swap(0) + mp(v))))
  t.same(kinds(build(H, calm)), ['low-free'])
})

t.test('memory not given back after a runner exits; given back is no finding', async t => {
  let p = H
  for (let s = 10; s < 30; s++) p += `${ts(s)}\t11\t10\tollama\t5000000\t1\t${runner('qwen3:8b')}\n`
  const stuck = [70, 70, 40, 40, 40, 40, 40, 40, 45, 45, 45, 45].map((v, i) => block(i * 5, mp(v))).join('')
  const f = build(p, stuck)
  t.same(kinds(f), ['not-given-back'])
  t.match(f[0]!.text, /^runner PID 11 for qwen3:8b exited at 14:00:29, but free memory was at most 45% in the minute after, against 70% before it started: memory not given back\.$/)
  const freed = [70, 70, 40, 40, 40, 40, 40, 69, 70, 70, 70, 70].map((v, i) => block(i * 5, mp(v))).join('')
  t.same(build(p, freed), [])
})
