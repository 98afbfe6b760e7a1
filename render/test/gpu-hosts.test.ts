/**
 * GPU hosts other than a discrete NVIDIA card, from the traces that
 * scripts/make-gpu-traces.ts writes (each source in the real program's
 * layout): a DGX Spark and a Jetson (unified memory), an AMD host as the
 * daemon records it (amdgpu sysfs) and an AMD user's loop (rocm-smi). The
 * findings and their figures are checked against the traces' own lines,
 * read here by hand.
 */
import t, { type Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { parseSvg } from './xml.js'

const BASE = join(ROOT, 'render', 'test', 'fixtures', 'gpu-hosts')
const MIB = 2 ** 20

interface Finding { record: string; n: number; kind: string; text: string; pids?: number[]; figures?: Record<string, number> }

function files(name: string): { dir: string; tsv: string; log: string } {
  const dir = join(BASE, name)
  const names = readdirSync(dir)
  return { dir, tsv: join(dir, names.find(n => n.endsWith('.tsv')) as string), log: join(dir, names.find(n => n.startsWith('system-')) as string) }
}

/** `===== ts =====` blocks of the system log, with their time. */
function blocks(log: string): { ms: number; body: string }[] {
  const parts = readFileSync(log, 'utf8').split(/^===== (\S+) =====$/m)
  const out: { ms: number; body: string }[] = []
  for (let i = 1; i < parts.length; i += 2) out.push({ ms: Date.parse(parts[i] as string), body: parts[i + 1] as string })
  return out
}

/** A process's RSS samples (bytes) from the process trace. */
function rss(tsv: string, pid: number): { ms: number; bytes: number }[] {
  return readFileSync(tsv, 'utf8').split('\n').slice(1).filter(Boolean).map(l => l.split('\t')).filter(c => Number(c[1]) === pid).map(c => ({ ms: Date.parse(c[0] as string), bytes: Number(c[4]) * 1024 }))
}

function render(t: Tap, name: string, extra: string[] = []): { findings: Finding[]; legend: string[]; svg: string; report: string } {
  const { dir } = files(name)
  const out = t.testdir({})
  const r = memtrace(['render', '--dir', dir, '-o', join(out, 'chart.svg'), '--report', join(out, 'report.md'), '--tz', 'UTC', '--json', ...extra])
  t.equal(r.code, 0, r.stderr)
  const findings = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Finding).filter(f => f.record === 'finding')
  const svg = readFileSync(join(out, 'chart.svg'), 'utf8')
  const legend = Array.from(parseSvg(svg).querySelectorAll('.legend-system text')).map(e => e.textContent ?? '')
  return { findings, legend, svg, report: readFileSync(join(out, 'report.md'), 'utf8') }
}
type Tap = Test

function parsedClean(t: Tap, name: string): Record<string, unknown>[] {
  const { tsv, log } = files(name)
  const r = memtrace(['parse', tsv, log])
  t.equal(r.code, 0, r.stderr)
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
  t.same(records.filter(x => x.record === 'problem'), [], 'every line read')
  return records.filter(x => x.record === 'system-sample')
}

t.test('DGX Spark: GPU memory is system RAM, and the runner is held to RSS plus its own GPU memory', async t => {
  const sys = parsedClean(t, 'dgx-spark')
  t.ok(sys.every(s => s.unifiedMemory === true), 'every sample marked unified (GB10)')
  t.ok(sys.every(s => (s.gpus as unknown[]).length === 0), 'no GPU memory figure made up')
  const { log, tsv } = files('dgx-spark')
  // By hand: at each sample, pid 4233's used_gpu_memory row plus its RSS at the last process sample before.
  const proc = rss(tsv, 4233)
  let best = { held: 0, rss: 0, gpu: 0, ms: 0 }
  for (const b of blocks(log)) {
    const m = /, 4233, (\d+) MiB$/m.exec(b.body)
    if (!m) continue
    const before = proc.filter(p => p.ms <= b.ms).pop()
    if (!before) continue
    const gpu = Number(m[1]) * MIB
    if (gpu + before.bytes > best.held) best = { held: gpu + before.bytes, rss: before.bytes, gpu, ms: b.ms }
  }
  const { findings, legend, report } = render(t, 'dgx-spark')
  t.same(findings.map(f => [f.kind, f.pids]), [['claim-vs-measured', [4233]]], 'one finding: the 70b runner held more than Ollama said')
  const f = findings[0] as Finding
  t.equal(f.figures?.heldBytes, best.held, 'held: RSS plus GPU memory at one sample')
  t.equal(f.figures?.peakRssBytes, best.rss, 'its RSS at that sample')
  t.equal(f.figures?.gpuProcessBytes, best.gpu, "nvidia-smi's figure for the pid")
  t.match(f.text, `at ${new Date(best.ms).toISOString().slice(11, 19)}`, 'at the sample it names')
  t.match(f.text, 'in unified memory')
  t.notMatch(f.text, /none in system RAM|all on the GPU/, 'never "none in system RAM" where the GPU memory is system RAM')
  t.notMatch(report, /none in system RAM|all on the GPU/, 'nor in the report')
  t.equal(legend.filter(l => l.includes('memory not reported')).length, 1, 'the unread GPU memory said once')
  t.ok(legend.includes('GPU 0 (NVIDIA GB10): memory not reported; it is system RAM'))
})

t.test("Jetson Orin: nvidia-smi's table gives no memory, tegrastats the board's RAM; nothing said wrong", async t => {
  const sys = parsedClean(t, 'jetson-orin')
  const { log } = files('jetson-orin')
  const bs = blocks(log)
  sys.forEach((s, i) => {
    const m = / RAM (\d+)\/(\d+)MB /.exec(bs[i]?.body ?? '')
    t.same(s.tegrastats, { ramUsedBytes: Number(m?.[1]) * MIB, ramTotalBytes: Number(m?.[2]) * MIB, swapUsedBytes: 0, swapTotalBytes: 31400 * MIB }, `block ${i}: tegrastats as printed`)
  })
  t.ok(sys.every(s => s.unifiedMemory === true))
  const { findings, legend, report } = render(t, 'jetson-orin')
  t.same(findings, [], 'runners under Ollama\'s figure on unified memory: no finding')
  t.ok(legend.includes('GPU 0 (Orin (nvgpu)): memory not reported; it is system RAM'))
  t.match(report, '| llama3.2:3b | 5101 |')
  t.match(report, 'in unified memory')
  t.notMatch(report, /none in system RAM|all on the GPU/)
})

t.test("AMD, as the daemon records it: amdgpu's VRAM drawn and set against Ollama's GPU share", async t => {
  const sys = parsedClean(t, 'amd-sysfs')
  const { log, tsv } = files('amd-sysfs')
  const bs = blocks(log)
  const used = bs.map(b => Number(/mem_info_vram_used:(\d+)$/m.exec(b.body)?.[1]))
  sys.forEach((s, i) => t.equal((s.gpus as { usedBytes: number }[])[0]?.usedBytes, used[i], `block ${i}: VRAM used as the kernel gave it`))
  const start = (rss(tsv, 6230)[0] as { ms: number }).ms
  const end = (rss(tsv, 6230).pop() as { ms: number }).ms
  const before = bs.map((b, i) => ({ ms: b.ms, v: used[i] as number })).filter(b => b.ms < start).pop() as { v: number }
  const peak = Math.max(...bs.map((b, i) => (b.ms >= start && b.ms <= end ? (used[i] as number) : 0)))
  const { findings, legend, svg } = render(t, 'amd-sysfs')
  t.same(findings.map(f => [f.kind, f.pids]), [['claim-vs-measured', [6230]]], 'one finding: the 70b put more on the GPU than Ollama said')
  const f = findings[0] as Finding
  t.equal(f.figures?.gpuUsedBytes, peak, 'the highest VRAM used while it lived')
  t.equal(f.figures?.gpuUsedBeforeBytes, before.v, 'the last sample before it started')
  t.equal(f.figures?.ollamaSizeVramBytes, 17176000000, "Ollama's size_vram")
  for (const l of ['GPU 1 used', 'GPU 1 total']) t.ok(legend.includes(l), `legend: ${l}`)
  t.notOk(legend.some(l => l.includes('not reported')), 'every GPU read')
  t.match(svg, /data-series="gpu-used"/)
})

t.test("AMD, a user's loop: free -h, rocm-smi --showmeminfo vram and ollama ps, every figure read", async t => {
  const sys = parsedClean(t, 'amd-rocm-loop')
  const bs = blocks(files('amd-rocm-loop').log)
  sys.forEach((s, i) => {
    const body = bs[i]?.body ?? ''
    t.same(s.gpus, [{ index: 0, name: 'card0', source: 'rocm-smi', usedBytes: Number(/VRAM Total Used Memory \(B\): (\d+)/.exec(body)?.[1]), totalBytes: Number(/VRAM Total Memory \(B\): (\d+)/.exec(body)?.[1]) }], `block ${i}`)
    t.same(s.sections, ['free', 'rocm-smi', 'ollama-ps'].filter(n => (s.sections as string[]).includes(n)), 'sections in loop order')
  })
  const { findings, legend } = render(t, 'amd-rocm-loop')
  t.same(findings, [], 'a runner that holds what Ollama said: nothing to say')
  t.ok(legend.includes('GPU 0 used'))
})

t.test("AMD with amd-smi only, a user's loop: amd-smi metric --mem-usage read to the MiB it prints, VRAM and GTT", async t => {
  const sys = parsedClean(t, 'amd-smi-loop')
  const bs = blocks(files('amd-smi-loop').log)
  t.equal(sys.length, bs.length)
  sys.forEach((s, i) => {
    const body = bs[i]?.body ?? ''
    const mb = (key: string) => Number(new RegExp(`^\\s+${key}: (\\d+) MB$`, 'm').exec(body)?.[1]) * MIB
    t.same(s.gpus, [{ index: 0, name: 'card0', source: 'amd-smi', usedBytes: mb('USED_VRAM'), totalBytes: mb('TOTAL_VRAM'), gttUsedBytes: mb('USED_GTT'), gttTotalBytes: mb('TOTAL_GTT') }], `block ${i}`)
    t.same(s.sections, ['free', 'amd-smi', 'ollama-ps'].filter(n => (s.sections as string[]).includes(n)), 'sections in loop order')
  })
  const { findings, legend } = render(t, 'amd-smi-loop')
  t.same(findings, [], 'a runner that holds what Ollama said: nothing to say')
  for (const l of ['GPU 0 used', 'GPU 0 total']) t.ok(legend.includes(l), `legend: ${l}`)
})
