/**
 * Findings ranked by harm on a discrete NVIDIA host: the order, and every
 * GPU figure, checked against the trace's own samples (render/test/traces/,
 * made by scripts/make-orphan-traces.ts; samples/linux-nvidia-container).
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadTrace } from '../load.js'
import { findFindings } from '../findings/findings.js'
import { reportMarkdown } from '../findings/report.js'
import { SEVERITY } from '../findings/severity.js'
import type { Trace } from '../../core/model/trace.js'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { traceOf } from './trace-of.js'

const O = { zone: 'UTC', lowFreePct: 30 }
const GIB = 1024 ** 3

async function load(dir: string) {
  const files = readdirSync(dir)
  const { trace } = await loadTrace(join(dir, files.find(f => f.endsWith('.tsv'))!), join(dir, files.find(f => f.startsWith('system-') && f.endsWith('.log'))!))
  return { trace, findings: findFindings(trace, O) }
}

const traceDir = (name: string) => join(ROOT, 'render', 'test', 'traces', name)
const runnerOf = (trace: Trace, pid: number) => trace.procs.find(p => p.pid === pid && p.role === 'runner')!
/** The first system sample at which /api/ps no longer listed the model, the runner still alive. */
function unlistedFrom(trace: Trace, model: string, pid: number): number {
  const r = runnerOf(trace, pid)
  return trace.snapshots.find(s => s.tsMs > r.tsMs[0]! && s.tsMs <= r.tsMs[r.tsMs.length - 1]! && !s.models.some(m => m.name === model))!.tsMs
}
/** GPU memory in use at system sample i, all GPUs. */
const gpuUsed = (trace: Trace, i: number) => [...trace.sys.fields].filter(([n]) => n.startsWith('gpu-used:')).reduce((a, [, c]) => a + c[i]!, 0)
const gpuTotal = (trace: Trace, i: number) => [...trace.sys.fields].filter(([n]) => n.startsWith('gpu-total:')).reduce((a, [, c]) => a + c[i]!, 0)
const sysIndex = (trace: Trace, from: number, to: number) => [...trace.sys.tsMs.keys()].filter(i => trace.sys.tsMs[i]! >= from && trace.sys.tsMs[i]! <= to)

t.test('an orphan holding GPU memory while the GPU was full is the first finding, with its own GPU figure', async t => {
  const { trace, findings } = await load(traceDir('nvidia-orphan'))
  t.equal(findings[0]?.kind, 'orphan-runner', 'the harm first')
  t.equal(findings[0]?.severity, 'short')
  t.notOk(findings.some(f => f.kind === 'claim-vs-measured'), "phi4's 1.1 GiB RSS and qwen's 1.0 GiB over its system-RAM share are a CUDA runner's runtime: no finding")
  t.notOk(findings.some(f => f.kind === 'runner-overlap'), 'available memory stayed over 60% while both ran: no headline')
  const o = findings[0]!
  const from = unlistedFrom(trace, 'phi4:14b', 4101)
  const phi = runnerOf(trace, 4101)
  const end = phi.tsMs[phi.tsMs.length - 1]!
  t.equal(Date.parse(o.start), from)
  // Its own GPU memory: the most nvidia-smi's process rows gave pid 4101 while it was an orphan.
  const g = trace.gpuByPid.get(4101)!
  const own = Math.max(...g.bytes.filter((_, i) => g.tsMs[i]! >= from && g.tsMs[i]! <= end))
  t.equal(o.figures?.gpuProcessBytes, own)
  t.ok(own > 8 * GIB, 'the 8.8 GiB it holds, not its 1.1 GiB RSS only')
  t.match(o.text, new RegExp(`and ${(own / GIB).toFixed(1)} GiB of GPU memory \\(nvidia-smi, `))
  // What it cost: the least GPU memory free while it was an orphan, and the model squeezed onto the CPU.
  const least = Math.min(...sysIndex(trace, from, end).map(i => gpuTotal(trace, i) - gpuUsed(trace, i)))
  t.equal(o.figures?.gpuFreeBytes, least)
  t.match(o.text, /Meanwhile the GPU was down to 1\.0 GiB free of 16\.0 GiB \(\d\d:\d\d:\d\d\), and qwen2\.5-coder:14b, started at 10:04:30, got 5\.6 GiB of its 9\.0 GiB on the GPU/)
})

t.test('without per-process rows, a runner\'s GPU figure is the device\'s rise up to the next runner\'s start, and the orphan\'s the device\'s use while it was alone', async t => {
  const { trace, findings } = await load(traceDir('nvidia-orphan-device-only'))
  t.equal(trace.gpuByPid.size, 0, 'no process rows in this rendition')
  const phi = runnerOf(trace, 4101)
  const qwen = runnerOf(trace, 4388)
  const start = phi.tsMs[0]!
  const before = gpuUsed(trace, sysIndex(trace, 0, start - 1).pop()!)
  const clipped = Math.max(...sysIndex(trace, start, qwen.tsMs[0]! - 1).map(i => gpuUsed(trace, i)))
  const whole = Math.max(...sysIndex(trace, start, phi.tsMs[phi.tsMs.length - 1]!).map(i => gpuUsed(trace, i)))
  const vram = trace.snapshots.flatMap(s => s.models).find(m => m.name === 'phi4:14b')!.sizeVramBytes!
  t.ok(whole - before - vram > 5 * GIB, "over phi4's whole life the device's rise includes qwen's memory: it would be a finding")
  t.ok(Math.abs(clipped - before - vram) < 1 * GIB, "up to qwen's start it is phi4's own")
  t.notOk(findings.some(f => f.kind === 'claim-vs-measured'), 'so no claim finding for either')
  const o = findings[0]!
  t.equal(o.kind, 'orphan-runner')
  const alone = Math.max(...sysIndex(trace, Date.parse(o.start), qwen.tsMs[0]! - 1).map(i => gpuUsed(trace, i)))
  t.equal(o.figures?.gpuUsedBytes, alone, "the device's use while the orphan was the only runner")
  t.match(o.text, /GiB of GPU memory in use \(\d\d:\d\d:\d\d; the device's figure, all GPUs, while no other runner was alive; the GPU gave none per process\)/)
})

t.test('the overlap during which memory stayed ample is a line in the report, not a finding', async t => {
  const { trace, findings } = await load(traceDir('nvidia-orphan'))
  const md = reportMarkdown(trace, findings, { zone: 'UTC', lowFreePct: 30, chartName: 'c.png', procFile: 'p.tsv', sysFile: 's.log', command: ['memtrace', 'render'] })
  t.match(md, /Runners alive together while memory stayed ample \(no harm, so no finding; the chart still draws the band\): At 10:04:30, runner PID 4101 for phi4:14b was still alive while runner PID 4388 for qwen2\.5-coder:14b started\./)
  t.match(md, /\n1\. Runner PID 4101 for phi4:14b was alive while \/api\/ps no longer listed/)
})

t.test('the chart draws the orphan\'s interval under its badge, and names it in the legend', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'c.svg')
  const r = memtrace(['render', '--dir', traceDir('nvidia-orphan'), '-o', out, '--tz', 'UTC', '--json'])
  t.equal(r.code, 0, r.stderr)
  const o = r.stdout.trim().split('\n').map(l => JSON.parse(l)).find(x => x.kind === 'orphan-runner')
  const svg = readFileSync(out, 'utf8')
  const bands = [...svg.matchAll(/<rect class="orphan-band" data-panel="([a-z]+)" data-start="([^"]+)" data-end="([^"]+)"/g)].map(m => [m[1], m[2], m[3]])
  t.same(bands, [['processes', o.start, o.end]], 'one band, in the process panel, over the interval the finding states')
  t.match(svg, />orphan runner \(alive, no longer listed\)</)
  const plain = memtrace(['render', '--dir', join(ROOT, 'samples', 'mac-model-switch'), '-o', join(dir, 'm.svg'), '--tz', 'UTC'])
  t.equal(plain.code, 0)
  t.notMatch(readFileSync(join(dir, 'm.svg'), 'utf8'), /orphan/, 'no orphan, no band and no legend entry')
})

t.test('the runner killed at the container limit is the headline, with the figures of its own samples', async t => {
  const { trace, findings } = await load(join(ROOT, 'samples', 'linux-nvidia-container'))
  const kill = findings[0]!
  t.equal(kill.kind, 'oom-kill')
  t.equal(kill.severity, 'killed')
  const r = runnerOf(trace, 2688)
  const last = r.tsMs.length - 1
  t.equal(kill.figures?.rssBytes, r.rssKb[last]! * 1024, 'its RSS at its last sample')
  const i = sysIndex(trace, 0, r.tsMs[last]!).pop()!
  t.equal(kill.figures?.cgroupUsageBytes, trace.sys.fields.get('cgroup-usage')![i], "the container's usage at the system sample before")
  t.equal(kill.figures?.cgroupLimitBytes, trace.sys.fields.get('cgroup-limit')![i])
  const ranks = findings.map(f => SEVERITY.indexOf(f.severity))
  t.same(ranks, [...ranks].sort((a, b) => a - b), 'one order, by harm: no finding above a more harmful one')
  t.notOk(findings.some(f => f.kind === 'claim-vs-measured' && f.pids?.includes(2412)), "phi4's 1.9 GiB RSS, all on the GPU: noise, not a finding")
})

// Hand-made traces for the order's rules.
const H = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
const ts = (s: number) => new Date(Date.UTC(2026, 1, 25, 14, 0, s)).toISOString().replace('.000', '')
const block = (s: number, body: string) => `===== ${ts(s)} =====\n${body}\n`
const cuda = (m: string) => `ollama runner --ollama-engine --model ${m} --port 1`
const meminfo = (availGiB: number, swapUsedGiB = 0) => `MemTotal:       67108864 kB\nMemAvailable:   ${Math.round(availGiB * 1024 * 1024)} kB\nSwapTotal:       8388608 kB\nSwapFree:        ${8388608 - Math.round(swapUsedGiB * 1024 * 1024)} kB\n`
const apiVram = (models: [string, number, number][]) => JSON.stringify({ models: models.map(([name, size, vram]) => ({ name, model: name, size, digest: 'd', details: {}, expires_at: '2026-02-25T14:30:00Z', size_vram: vram, context_length: 4096 })) })

function build(proc: string, sys: string) {
  const trace = traceOf(proc, sys)
  return findFindings(trace, O)
}

t.test('the RSS-vs-claim finding fires beyond the runtime a CUDA runner holds, not within it', async t => {
  const trace = (rssGiB: number) => {
    let p = H
    let sys = ''
    for (let s = 0; s < 30; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tollama\t${s < 2 ? 100000 : Math.round(rssGiB * 1024 * 1024)}\t1\t${cuda('phi4:14b')}\n`
    for (let s = 0; s < 30; s += 5) sys += block(s, meminfo(50) + apiVram([['phi4:14b', 9126805504, 9126805504]]))
    return build(p, sys)
  }
  const noise = trace(1.9)
  t.same(noise.map(f => f.kind), [], '1.9 GiB RSS for a model all on the GPU: a CUDA context and mapped pages')
  const far = trace(3.5)
  t.same(far.map(f => f.kind), ['claim-vs-measured'])
  t.equal(far[0]?.severity, 'estimate')
  t.match(far[0]?.text, /^Runner PID 11 for phi4:14b peaked at 3\.5 GiB RSS at 14:00:02, 3\.5 GiB more than what Ollama keeps in system RAM \(none\)\./)
})

t.test('one order for all findings: exhausted memory, then the overlap that cost it, then an estimate', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) {
    p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tollama\t${Math.round(6 * 1024 * 1024)}\t1\t${cuda('a:7b')}\n`
    if (s >= 20) p += `${ts(s)}\t12\t10\tollama\t${Math.round(40 * 1024 * 1024)}\t1\t${cuda('b:70b')}\n`
  }
  // a:7b is all on the GPU yet holds 6 GiB RSS (an estimate far off); b's load leaves 10% available and swap growing.
  for (let s = 0; s < 60; s += 5) sys += block(s, meminfo(s >= 25 ? 6.4 : 40, s >= 25 ? (s - 20) / 5 : 0) + apiVram([['a:7b', 4.9e9, 4.9e9], ...(s >= 20 ? [['b:70b', 42e9, 0] as [string, number, number]] : [])]))
  const f = build(p, sys)
  t.same(
    f.map(x => [x.severity, x.kind]),
    [
      ['exhausted', 'low-free'],
      ['exhausted', 'pressure-after-low-free'],
      ['short', 'runner-overlap'],
      ['estimate', 'claim-vs-measured'],
    ],
  )
  t.match(f[2]!.text, /During the overlap available memory fell to 10%/)
})

t.test('one model loaded again and again at the same size: no "5.6 → 5.6 GiB"', async t => {
  const vm = (wiredGiB: number) => `Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages wired down: ${Math.round((wiredGiB * GIB) / 16384)}.\nPages occupied by compressor: 100.\n`
  const mp = 'The system has 34359738368 (2097152 pages with a page size of 16384).\nSystem-wide memory free percentage: 60%\n'
  let p = H
  let sys = ''
  for (let k = 0; k < 3; k++) for (let s = k * 20 + 5; s < k * 20 + 18; s++) p += `${ts(s)}\t${100 + k}\t10\tollama\t${5_870_000 + k * 10}\t1\tollama runner --mlx-engine --model q:7b --port 1\n`
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  for (let s = 0; s < 60; s += 5) sys += block(s, vm(s % 20 >= 5 && s % 20 < 18 ? 8 : 3) + mp)
  const f = build(p, sys).find(x => x.kind === 'wired-jump')!
  t.match(f.text, /: peak RSS 5\.6 GiB; wired rose at each load by/)
  t.notMatch(f.text, /5\.6 → 5\.6/)
})

t.test('orphans of one model in one line say the most GPU memory one held, by its PID', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tollama\t${1024 * 1024}\t1\t${cuda('qwen3:8b')}\n`
  const smi = (mib: number) => `index, uuid, name, memory.used [MiB], memory.total [MiB]\n0, GPU-1, NVIDIA GeForce RTX 4090, ${mib + 400} MiB, 24564 MiB\ngpu_uuid, pid, used_gpu_memory [MiB]\nGPU-1, 11, ${mib} MiB\n`
  const listed = (s: number) => s < 10 || (s >= 30 && s < 40)
  for (let s = 0; s < 60; s += 5) sys += block(s, meminfo(50) + smi(s === 50 ? 6144 : 5120) + apiVram(listed(s) ? [['qwen3:8b', 5.4e9, 5.4e9]] : []))
  const f = build(p, sys)
  const o = f.find(x => x.kind === 'orphan-runner')!
  t.equal(o.figures?.intervals, 2)
  t.equal(o.figures?.gpuProcessBytes, 6144 * 1024 ** 2, 'the 14:00:50 row, the highest inside an orphan interval')
  t.match(o.text, /\(pid 11 from 14:00:10, pid 11 from 14:00:40; 39 s in all\): orphan runners; pid 11 held up to 6\.0 GiB of GPU memory \(nvidia-smi, 14:00:50\)\.$/)
  t.equal(o.severity, 'not-given-back', 'memory stayed ample: memory kept, not memory short')
})

t.test('low free memory is exhausted memory when pages were written out meanwhile (macOS), else only short', async t => {
  const mp = (pct: number) => `The system has 34359738368 (2097152 pages with a page size of 16384).\nSystem-wide memory free percentage: ${pct}%\n`
  const vm = (pageouts: number) => `Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages wired down: 300000.\nPages occupied by compressor: 30000.\nPageouts: ${pageouts}.\n`
  const trace = (perSample: number) => {
    let sys = ''
    for (let s = 0; s < 60; s += 5) sys += block(s, vm(41234 + (s >= 20 ? ((s - 15) / 5) * perSample : 0)) + mp(s >= 20 && s < 45 ? 20 : 60))
    return build(H, sys)
  }
  // 16384 pages of 16 KiB a sample: 256 MiB a sample, 1.25 GiB over the interval.
  const paging = trace(16384)
  t.same(paging.map(f => [f.severity, f.kind]), [['exhausted', 'low-free']])
  const quiet = trace(10)
  t.same(quiet.map(f => [f.severity, f.kind]), [['short', 'low-free']], 'a few pages written out: low, not exhausted')
})

t.test('runners alive together in a container at its limit cost memory that was short, though the host had plenty', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) {
    p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tollama\t${8 * 1024 * 1024}\t1\t${cuda('a:7b')}\n`
    if (s >= 20 && s < 40) p += `${ts(s)}\t12\t10\tollama\t${7 * 1024 * 1024}\t1\t${cuda('b:7b')}\n`
  }
  const cg = (usageGiB: number) => `cgroup: /docker/abc\n/sys/fs/cgroup/memory.current:${Math.round(usageGiB * GIB)}\n/sys/fs/cgroup/memory.max:${16 * GIB}\n`
  const models = (s: number) => apiVram([['a:7b', 8.6e9, 0], ...(s >= 20 && s < 40 ? [['b:7b', 7.5e9, 0] as [string, number, number]] : [])])
  const body = (s: number, full: boolean) => meminfo(50) + cg(s >= 20 && s < 40 ? (full ? 15.6 : 12) : 8.5) + models(s)
  let calm = ''
  for (let s = 0; s < 60; s += 5) {
    sys += block(s, body(s, true))
    calm += block(s, body(s, false))
  }
  const f = build(p, sys)
  // The container at its limit is a finding of its own, first; the overlap that cost that memory follows.
  t.same(f.map(x => [x.severity, x.kind]), [['exhausted', 'container-limit'], ['short', 'runner-overlap']], '15.6 of 16 GiB: at its limit')
  t.match(f[1]!.text, /container usage 15\.6 GiB/)
  t.same(build(p, calm).map(x => x.kind), [], '12 of 16 GiB: ample, the overlap is a line in the report')
})
