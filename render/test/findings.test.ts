import t from 'tap'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { loadTrace } from '../load.js'
import { findFindings, makeCtx } from '../findings/findings.js'
import { overlapFindings } from '../findings/overlap.js'
import { findingSchema, runnerMemorySchema } from '../../schemas/index.js'
import { memtrace, parseSys, ROOT } from '../../core/test/helpers.js'
import { traceOf } from './trace-of.js'

const O = { zone: 'UTC', lowFreePct: 30 }
const kinds = (fs: { kind: string }[]) => fs.map(f => f.kind)

async function sample(name: string) {
  const d = join(ROOT, 'samples', name)
  const { readdirSync } = await import('node:fs')
  const files = readdirSync(d)
  const { trace } = await loadTrace(join(d, files.find(f => f.endsWith('.tsv'))!), join(d, files.find(f => f.startsWith('system-') && f.endsWith('.log'))!))
  return findFindings(trace, O)
}

/** The overlaps as drafted, before those during which memory stayed ample are left to the report. */
function overlapDrafts(proc: string, sys: string) {
  const trace = traceOf(proc, sys)
  return overlapFindings(makeCtx(trace, O))
}

function build(proc: string, sys: string) {
  const trace = traceOf(proc, sys)
  const f = findFindings(trace, O)
  if (process.env.SHOW_FINDINGS) for (const x of f) process.stderr.write(`${x.kind}: ${x.text}\n`)
  return f
}

const H = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
const ts = (s: number) => new Date(Date.UTC(2026, 1, 25, 14, 0, s)).toISOString().replace('.000', '')
const runner = (m: string) => `ollama runner --mlx-engine --model ${m} --port 1`
const block = (s: number, body: string) => `===== ${ts(s)} =====\n${body}\n`
const mp = (pct: number) => `The system has 34359738368 (2097152 pages with a page size of 16384).\nSystem-wide memory free percentage: ${pct}%\n`
const api = (models: [string, number][]) => JSON.stringify({ models: models.map(([name, size]) => ({ name, model: name, size, digest: 'd', details: {}, expires_at: '2026-02-25T14:30:00Z', size_vram: size, context_length: 4096 })) })

t.test('the macOS model switch: memory exhausted first (low free, compressor and swap), then the overlap that cost it, the loads', async t => {
  const f = await sample('mac-model-switch')
  t.same(kinds(f), ['low-free', 'pressure-after-low-free', 'runner-overlap', 'wired-jump', 'wired-jump'], 'most harmful first')
  t.same(f.map(x => x.severity), ['exhausted', 'exhausted', 'short', 'other', 'other'])
  t.same(f.map(x => x.n), [1, 2, 3, 4, 5], 'numbered in that order')
  const ov = f[2]!
  t.same(ov.pids, [4412, 5120])
  t.same(ov.models, ['qwen2.5-coder:7b', 'qwen3-coder:30b'])
  t.match(ov.text, /^At 14:09:45, runner PID 4412 for qwen2\.5-coder:7b was still alive while runner PID 5120 for qwen3-coder:30b started\. They ran together until 14:10:50 \(1 min 05 s\), holding 24\.\d GiB RSS combined at the peak \(14:10:\d\d\)\. During the overlap free memory fell to \d+% \(14:10:\d\d\); wired peaked at [\d.]+ GiB \(14:10:\d\d\), compressor [\d.]+ GiB \(14:\d\d:\d\d\) and swap used [\d.]+ GiB \(14:\d\d:\d\d\)\. \/api\/ps listed qwen3-coder:30b \(18\.0 GiB\) and qwen2\.5-coder:7b \(5\.1 GiB\) at 14:09:45\.$/)
  const low = f[0]!
  t.match(low.text, /^Free memory was under 30% from 14:10:00 until the end of the trace \(14:17:55, 7 min 55 s; not recovered\), lowest \d+% at .*, with qwen2\.5-coder:7b \(pid 4412\) and qwen3-coder:30b \(pid 5120\) loaded\./)
  t.notOk(f.some(x => x.kind === 'claim-vs-measured'), 'measured about the same as Ollama: not a finding')
})

t.test('the NUM_PARALLEL sweep sample: 15 restarts read in a few lines, not 38', async t => {
  const f = await sample('num-parallel-sweep')
  t.ok(f.length <= 8, `${f.length} lines`)
  t.same(kinds(f), ['low-free', 'wired-jump'])
  t.match(f[0]!.text, /^Free memory was under 30% 7 times between 13:18:15 and 13:24:55 .*each time with a runner of qwen2\.5-coder:7b loaded\. Lowest 20% at 13:24:15/)
  t.match(f[1]!.text, /^15 runners of qwen2\.5-coder:7b, one after another, 13:10:04–13:24:56 \(14 min 52 s\): peak RSS 5\.3 → 15\.7 GiB; wired rose at each load by 4\.9–14\.4 GiB\.$/)
})

t.test('the Linux container: GPU-aware claims, no "below Ollama" for a model on the GPU', async t => {
  const f = await sample('linux-nvidia-container')
  t.notMatch(f.map(x => x.text).join('\n'), /% below/)
  t.notOk(f.some(x => x.kind === 'claim-vs-measured' && x.models?.[0] === 'phi4:14b'), "phi4's 1.9 GiB RSS, all on the GPU, is what a CUDA runner holds: no finding")
  const qwen = f.find(x => x.kind === 'claim-vs-measured' && x.models?.[0] === 'qwen2.5-coder:32b')!
  t.match(qwen.text, /gave qwen2\.5-coder:32b 20\.0 GiB: 18\.6 GiB on the GPU, 1\.4 GiB in system RAM\. GPU memory in use rose by 22\.6 GiB, .*\(the GPU gave no figure for pid 2519, so this is the device's use\)/)
})

t.test('the Linux container: no overlap, no low free memory; the server failing once', async t => {
  const f = await sample('linux-nvidia-container')
  t.notOk(kinds(f).includes('runner-overlap'))
  t.notOk(kinds(f).includes('low-free'))
  const s = f.find(x => x.kind === 'server-unanswered')!
  t.match(s.text, /^The Ollama server's list of loaded models failed at 09:09:00: Error: 500 .*signal: killed$/, 'it answered, with an error')
})

t.test('a calm trace has no finding', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  for (let s = 0; s < 60; s += 5) sys += block(s, mp(70))
  t.same(build(p, sys), [])
})

t.test('low free fires under the threshold only, with the figures of the sample it names', async t => {
  let sys = ''
  ;[50, 40, 25, 20, 28, 35].forEach((v, i) => (sys += block(i * 5, vm(3 + i, 0.5) + mp(v))))
  const f = build(H, sys)
  t.same(kinds(f), ['low-free'])
  t.match(f[0]!.text, /^Free memory was under 30% from 14:00:10 to 14:00:25 \(15 s\), lowest 20% at 14:00:15, with no model runner alive\. At that sample wired was 6\.0 GiB and compressor 0\.5 GiB\.$/)
  t.equal(f[0]!.figures?.lowestFreePct, 20)
  t.equal(f[0]!.figures?.wiredBytes, 6 * 1024 ** 3, 'wired at 14:00:15 exactly, not the highest nearby (7 and 8 GiB)')
})

t.test('low free: one sample at or just above the threshold does not split an interval (hysteresis)', async t => {
  let sys = ''
  ;[50, 29, 29, 30, 29, 31, 29, 50, 29, 33, 29, 50].forEach((v, i) => (sys += block(i * 5, mp(v))))
  const f = build(H, sys)
  t.same(kinds(f), ['low-free'])
  t.match(f[0]!.text, /^Free memory was under 30% 3 times between 14:00:05 and 14:00:55 /, '29 29 30 29 31 29 is one interval; 29 33 29 is two more')
  t.equal(f[0]!.figures?.intervals, 3)
  t.equal(f[0]!.start, ts(5))
  let twice = ''
  ;[50, 29, 30, 30, 29, 50].forEach((v, i) => (twice += block(i * 5, mp(v))))
  t.equal(build(H, twice)[0]!.figures?.intervals, 2, 'two samples back at the threshold end it')
})

t.test('low free until the end of the trace says so, and ends at the last sample', async t => {
  let sys = ''
  ;[50, 40, 25, 20, 22].forEach((v, i) => (sys += block(i * 5, mp(v))))
  const f = build(H, sys)
  t.match(f[0]!.text, /^Free memory was under 30% from 14:00:10 until the end of the trace \(14:00:20, 10 s; not recovered\)/)
  t.equal(f[0]!.end, ts(20))
})

t.test('the overlap: its stated length is its drawn band, its figures come from inside it', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) {
    p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
    if (s >= 5 && s <= 32) p += `${ts(s)}\t11\t10\tollama\t${s === 31 ? 4_000_000 : 3_000_000}\t1\t${runner('a:1b')}\n`
    if (s >= 21) p += `${ts(s)}\t12\t10\tollama\t2_000_000\t1\t${runner('b:2b')}\n`.replace('2_000_000', '2000000')
  }
  // The lowest free % (10) and highest wired (20 GiB) lie just outside the overlap.
  for (let s = 0; s < 60; s += 5) sys += block(s, vm(s === 35 ? 20 : 8, 1) + mp(s === 20 ? 10 : s >= 25 && s <= 30 ? 40 : 60))
  t.notOk(build(p, sys).some(x => x.kind === 'runner-overlap'), 'free memory stayed at 40% or more: no headline')
  const ov = overlapDrafts(p, sys)[0]!
  t.equal(ov.start, ts(21))
  t.equal(ov.end, ts(32))
  t.equal(ov.figures?.durationMs, 11_000)
  t.match(ov.text, /They ran together until 14:00:32 \(11 s\), holding 5\.7 GiB RSS combined at the peak \(14:00:31\)\./)
  t.match(ov.text, /free memory stayed at 40% or more \(lowest at 14:00:25\); wired peaked at 8\.0 GiB/, 'not the 10% at 14:00:20 or the 20 GiB at 14:00:35')
})

t.test("Ollama's claim: fires when far apart, not when about the same; never without /api/ps", async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 20; s++) p += `${ts(s)}\t11\t10\tollama\t${s < 3 ? 100000 : 8_000_000}\t1\t${runner('qwen3:8b')}\n`
  for (let s = 0; s < 20; s += 5) sys += block(s, mp(60) + api([['qwen3:8b', 5e9]]))
  const f = build(p, sys)
  t.same(kinds(f), ['claim-vs-measured'])
  t.match(f[0]!.text, /^Runner PID 11 for qwen3:8b peaked at 7\.6 GiB RSS at 14:00:03, 3\.0 GiB more than the 4\.7 GiB Ollama said it holds \(\+64%\)\. \/api\/ps at 14:00:00 gave qwen3:8b 4\.7 GiB, in unified memory\.$/)
  const close = p.replace(/\t8000000\t/g, '\t4900000\t')
  t.same(kinds(build(close, sys)), [], 'about the same is no finding')
  t.same(build(p, ''), [], 'no /api/ps: nothing to compare')
})

// Linux with an NVIDIA GPU: meminfo, nvidia-smi and /api/ps with size_vram.
const meminfo = (availGiB: number) => `MemTotal:       67108864 kB\nMemAvailable:   ${availGiB * 1024 * 1024} kB\nSwapTotal:       0 kB\nSwapFree:        0 kB\n`
const smi = (usedMiB: number) => `index, name, memory.used [MiB], memory.total [MiB]\n0, NVIDIA GeForce RTX 4090, ${usedMiB} MiB, 24576 MiB\n`
const apiVram = (name: string, size: number, vram: number) => JSON.stringify({ models: [{ name, model: name, size, digest: 'd', details: {}, expires_at: '2026-02-25T14:30:00Z', size_vram: vram, context_length: 4096 }] })

t.test('GPU-aware: a model all on the GPU is compared with GPU memory, not called 77% below', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 30; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tllama-server\t${s < 2 ? 100000 : 600000}\t1\t${runner('phi4:14b')}\n`
  for (let s = 0; s < 30; s += 5) sys += block(s, meminfo(50) + smi(s === 10 ? 9216 : 8800) + apiVram('phi4:14b', 9126805504, 9126805504))
  const f = build(p, sys)
  t.same(kinds(f), [], 'RSS 0.6 GiB for a model all on the GPU, GPU use close to size_vram: nothing to say')
  t.notMatch(JSON.stringify(f), /below Ollama/)
  const hungry = sys.replace(/, 88\d\d MiB,|, 9216 MiB,/g, ', 14336 MiB,')
  const g = build(p, hungry)
  t.same(kinds(g), ['claim-vs-measured'])
  t.match(g[0]!.text, /what Ollama keeps in system RAM \(none\)|close to what Ollama keeps in system RAM \(none\)/)
  t.match(g[0]!.text, /gave phi4:14b 8\.5 GiB, all on the GPU and none in system RAM\. GPU memory in use peaked at 14\.0 GiB \(14:00:00; the GPU gave no figure for pid 11, so this is the device's use\), against the 8\.5 GiB Ollama put there\.$/)
  const cpu = sys.replace(/"size_vram":\d+/g, '"size_vram":0')
  const c = build(p, cpu)
  t.match(c[0]!.text, /8\.5 GiB, all in system RAM/, 'size_vram 0 reads as all in system RAM')
  t.match(c[0]!.text, /peaked at 0\.6 GiB RSS at 14:00:02, 7\.9 GiB less than the 8\.5 GiB Ollama keeps in system RAM \(−93%\)/)
})

t.test('GPU-aware: all GPUs together, and only what the runner added to them', async t => {
  let p = H
  let sys = ''
  const smi2 = (a: number, b: number) => `index, name, memory.used [MiB], memory.total [MiB]\n0, NVIDIA A100, ${a} MiB, 81920 MiB\n1, NVIDIA A100, ${b} MiB, 81920 MiB\n`
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${s >= 20 ? `${ts(s)}\t11\t10\tllama-server\t900000\t1\t${runner('llama3.3:70b')}\n` : ''}`
  // 10 GiB in use by something else before the load; the model then adds 30 + 15 GiB across two GPUs.
  for (let s = 0; s < 60; s += 5) sys += block(s, meminfo(50) + (s < 20 ? smi2(10240, 0) : smi2(40960, 15360)) + (s >= 20 ? apiVram('llama3.3:70b', 48318382080, 48318382080) : ''))
  const f = build(p, sys)
  t.same(kinds(f), [], '45 GiB added across two GPUs for 45 GiB on the GPU: nothing to say')
  const more = sys.replace(/40960 MiB/g, '61440 MiB')
  const g = build(p, more)
  t.same(kinds(g), ['claim-vs-measured'])
  t.match(g[0]!.text, /GPU memory in use rose by 65\.0 GiB, from 10\.0 GiB at 14:00:15 to 75\.0 GiB at 14:00:20 \(the GPU gave no figure for pid 11, so this is the device's use\), against the 45\.0 GiB Ollama put there\.$/)
  t.equal(g[0]!.figures?.gpuUsedBytes, 75 * 1024 ** 3, 'the sum of both GPUs')
})

t.test("GPU-aware: a runner's GPU rise stops where the next runner starts (it is not the next model's memory)", async t => {
  let p = H
  let sys = ''
  // phi4 (8.5 GiB on the GPU) from 0 s to 59 s; qwen (12 GiB more) starts at 40 s while phi4 is still alive.
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tllama-server\t600000\t1\t${runner('phi4:14b')}\n${s >= 40 ? `${ts(s)}\t12\t10\tllama-server\t700000\t1\t${runner('qwen3:14b')}\n` : ''}`
  const both = (s: number) => JSON.stringify({ models: [JSON.parse(apiVram('phi4:14b', 9126805504, 9126805504)).models[0], ...(s >= 40 ? [JSON.parse(apiVram('qwen3:14b', 12884901888, 12884901888)).models[0]] : [])] })
  for (let s = 0; s < 60; s += 5) sys += block(s, meminfo(50) + smi(s < 5 ? 600 : s < 40 ? 600 + 8704 : 600 + 8704 + 12288) + both(s))
  const f = build(p, sys)
  const phi = f.filter(x => x.kind === 'claim-vs-measured' && x.models?.includes('phi4:14b'))
  t.same(phi, [], "phi4's own rise is 8.5 GiB, as Ollama said: the 12 GiB qwen added after 40 s are not counted against it")
})

t.test('grouping: 15 runners of one model, one after another, are one line', async t => {
  let p = H
  let sys = ''
  for (let k = 0; k < 15; k++) {
    for (let s = k * 20 + 5; s < k * 20 + 18; s++) p += `${ts(s)}\t${100 + k}\t10\tollama\t${(5 + k) * 1_000_000}\t1\t${runner('qwen2.5-coder:7b')}\n`
  }
  for (let s = 0; s < 300; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  for (let s = 0; s < 300; s += 5) {
    const k = Math.floor(s / 20)
    const loaded = s % 20 >= 5 && s % 20 < 18
    sys += block(s, vm(loaded ? 4 + k : 3, 0.4) + mp(loaded && k >= 10 ? 25 : 60))
  }
  const f = build(p, sys)
  t.same(kinds(f), ['low-free', 'wired-jump'], `${f.length} lines, not 20`)
  t.match(f[1]!.text, /^15 runners of qwen2\.5-coder:7b, one after another, 14:00:05–14:04:57 \(4 min 52 s\): peak RSS 4\.8 → 18\.1 GiB; wired rose at each load by 1\.0–15\.0 GiB\.$/)
  t.equal(f[1]!.pids?.length, 15)
  t.match(f[0]!.text, /^Free memory was under 30% 5 times between /)
})

t.test('a runner first seen after a gap did not "start" there, and no "rose from" crosses the gap', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 10; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  for (let s = 60; s < 90; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tollama\t${5_000_000}\t1\t${runner('a:1b')}\n`
  for (let s = 60; s < 90; s++) if (s >= 70) p += `${ts(s)}\t12\t10\tollama\t${1_000_000}\t1\t${runner('b:1b')}\n`
  for (const s of [0, 5, 60, 65, 70, 75, 80, 85]) sys += block(s, vm(s < 60 ? 3 : 9, 0.5) + mp(60))
  const f = build(p, sys)
  t.notOk(f.some(x => x.kind === 'wired-jump' && x.pids?.includes(11)), 'wired 3 → 9 GiB across the gap is not a jump at the load')
  const ov = overlapDrafts(p, sys)[0]!
  t.match(ov.text, /^At 14:01:10, runner PID 11 for a:1b was still alive while runner PID 12 for b:1b started\./)
  let q = H
  for (let s = 60; s < 90; s++) q += `${ts(s)}\t11\t10\tollama\t5000000\t1\t${runner('a:1b')}\n${ts(s)}\t12\t10\tollama\t1000000\t1\t${runner('b:1b')}\n`
  const g = overlapDrafts(H + q.slice(H.length).replace(/^/, `${ts(0)}\t10\t1\tollama\t50000\t1\tollama serve\n`), sys)[0]!
  t.match(g.text, /^At 14:01:00, after a gap in sampling, runner PID 11 for a:1b and runner PID 12 for b:1b were alive together\./)
})

t.test('an orphan runner: alive while /api/ps no longer lists its model', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tollama\t3000000\t1\t${runner('qwen3:8b')}\n`
  for (let s = 0; s < 60; s += 5) sys += block(s, mp(60) + api(s < 30 ? [['qwen3:8b', 3.3e9]] : []))
  const f = build(p, sys)
  t.same(kinds(f), ['orphan-runner'])
  t.match(f[0]!.text, /^Runner PID 11 for qwen3:8b was alive while \/api\/ps no longer listed qwen3:8b: from 14:00:30 until the end of the trace \(29 s\), an orphan runner holding up to 2\.9 GiB RSS \(14:00:30\)\.$/)
  let blip = ''
  for (let s = 0; s < 60; s += 5) blip += block(s, mp(60) + api(s === 30 ? [] : [['qwen3:8b', 3.3e9]]))
  t.same(build(p, blip), [], 'one answer without it, then listed again: one interval, not more')
})

t.test('a runner gone while Ollama still lists its model', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) {
    p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
    if (s < 20) p += `${ts(s)}\t11\t10\tollama\t3000000\t1\t${runner('qwen3:8b')}\n`
  }
  for (let s = 0; s < 60; s += 5) sys += block(s, mp(60) + api(s < 45 ? [['qwen3:8b', 3.3e9]] : []))
  const f = build(p, sys)
  t.same(kinds(f), ['runner-gone-while-listed'])
  t.match(f[0]!.text, /^Runner PID 11 for qwen3:8b exited \(or was killed\) at 14:00:19, but \/api\/ps still listed qwen3:8b until 14:00:40, in 4 samples, with no runner for it alive\.$/)
  let clean = ''
  for (let s = 0; s < 60; s += 5) clean += block(s, mp(60) + api(s < 20 ? [['qwen3:8b', 3.3e9]] : []))
  t.same(build(p, clean), [], 'unlisted as it exits: no finding')
  let reload = p
  for (let s = 21; s < 60; s++) reload += `${ts(s)}\t12\t10\tollama\t3000000\t1\t${runner('qwen3:8b')}\n`
  t.same(kinds(build(reload, sys)).filter(k => k === 'runner-gone-while-listed'), [], 'a new runner of the same model serves the listing')
  // Its last sample at 14:00:18: the answer at 14:00:20 came two process samples after, within the unload's margin, yet it listed the model with no runner alive.
  const early = p.split('\n').filter(l => !l.startsWith(`${ts(19)}\t11\t`)).join('\n')
  const g = build(early, sys)
  t.match(g[0]!.text, /exited \(or was killed\) at 14:00:18, but \/api\/ps still listed qwen3:8b until 14:00:40, in 5 samples/, 'every answer after its exit that listed it counts: 20, 25, 30, 35 and 40 s')
  t.equal(g[0]!.figures?.listedSamples, 5)
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
  let many = ''
  for (const s of [0, 5, 30, 35, 60, 65, 90, 95]) many += block(s, mp(60))
  const g = build(H, many)
  t.same(kinds(g), ['gap'], 'three holes are one line')
  t.match(g[0]!.text, /^No samples in 3 intervals \(1 min 15 s in all\): from 14:00:05 to 14:00:30 \(25 s\), /)
})

t.test('render --json prints numbered findings that validate; the text and the SVG use the same numbers', async t => {
  const dir = t.testdir({})
  const d = join(ROOT, 'samples', 'mac-model-switch')
  const args = ['render', '--dir', d, '-o', join(dir, 'c.svg'), '--tz', 'UTC']
  const r = memtrace([...args, '--json'])
  t.equal(r.code, 0, r.stderr)
  const ajv = new Ajv({ strict: true })
  const validate = ajv.compile(findingSchema)
  const validateRunner = ajv.compile(runnerMemorySchema)
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l))
  const lines = records.filter(l => l.record === 'finding')
  t.equal(lines.length, 5)
  for (const l of lines) t.ok(validate(l), JSON.stringify(validate.errors))
  // After the findings, each runner's memory: its figures are the trace's own.
  const runners = records.slice(lines.length)
  t.ok(records.slice(0, lines.length).every(l => l.record === 'finding'), 'the findings first')
  const { trace } = await loadTrace(join(d, 'ollama-process-memtrace-20260225-140300.tsv'), join(d, 'system-memtrace-20260225-140300.log'))
  const traced = trace.procs.filter(p => p.role === 'runner')
  t.same(runners.map(x => x.pid), traced.map(p => p.pid), 'one runner-memory record per runner')
  for (const x of runners) t.ok(validateRunner(x), JSON.stringify(validateRunner.errors))
  t.same(runners.map(x => x.rssBytes), traced.map(p => p.peakRssKb * 1024), 'with its peak RSS')
  t.same(lines.map(l => l.n), [1, 2, 3, 4, 5])
  const text = memtrace(args)
  t.match(text.stdout, /most important first:\n1\. Free memory was under 30%[^\n]*\n2\. After free memory fell under 30%[^\n]*\n3\. At 14:09:45, runner PID 4412/)
  const { readFileSync } = await import('node:fs')
  const svg = readFileSync(join(dir, 'c.svg'), 'utf8')
  t.match(svg, /<desc>[^<]*What happened:\n1\. Free memory was under 30%/, 'the findings are in the SVG too')
  const marks = [...svg.matchAll(/<g class="finding" data-n="(\d+)" data-kind="([a-z-]+)" data-start="([^"]+)" data-end="([^"]+)"><title>/g)].map(m => [Number(m[1]), m[2], m[3], m[4]])
  t.same(marks, lines.map(l => [l.n, l.kind, l.start, l.end ?? l.start]), 'each finding is marked on the chart with its number and interval')
  const band = [...svg.matchAll(/<rect class="runner-overlap" data-panel="[a-z]+" data-start="([^"]+)" data-end="([^"]+)"/g)].map(m => [m[1], m[2]])
  const ov = lines.find(l => l.kind === 'runner-overlap')
  t.ok(band.length >= 1 && band.every(([s, e]) => s === ov.start && e === ov.end), `the overlap's band is its stated interval: ${JSON.stringify(band)}`)
})

const vm = (wiredGiB: number, compressorGiB: number) =>
  `Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages wired down: ${Math.round((wiredGiB * 1024 ** 3) / 16384)}.\nPages occupied by compressor: ${Math.round((compressorGiB * 1024 ** 3) / 16384)}.\n`
const swap = (gb: number) => `vm.swapusage: total = 4096.00M  used = ${(gb * 1024).toFixed(2)}M  free = 0.00M  (encrypted)\n`

t.test('wired memory jumping at a model load: fires on a jump, not on a flat line', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  for (let s = 20; s < 60; s++) p += `${ts(s)}\t11\t10\tollama\t5000000\t1\t${runner('qwen3:8b')}\n`
  for (let s = 0; s < 60; s += 5) sys += block(s, vm(s < 20 ? 3 : s === 25 ? 9 : 8, 0.5) + mp(60))
  const f = build(p, sys)
  t.same(kinds(f), ['wired-jump'])
  t.match(f[0]!.text, /^Wired memory rose by 6\.0 GiB as runner PID 11 for qwen3:8b started at 14:00:20: from 3\.0 GiB at 14:00:15 to 9\.0 GiB at 14:00:25\.$/)
  const flat = sys.replace(/Pages wired down: \d+\./g, 'Pages wired down: 196608.')
  t.same(build(p, flat), [])
})

t.test('compressor and swap after low free memory: grown and not back; and a dip that cost nothing', async t => {
  let sys = ''
  const pct = [60, 60, 20, 20, 60, 60, 60]
  pct.forEach((v, i) => (sys += block(i * 5, vm(3, i < 2 ? 0.5 : 3) + swap(i < 2 ? 0 : 2) + mp(v))))
  const f = build(H, sys)
  t.same(kinds(f), ['low-free', 'pressure-after-low-free'])
  t.match(f[1]!.text, /^After free memory fell under 30% at 14:00:10, the compressor grew from 0\.5 GiB \(14:00:05\) to 3\.0 GiB \(14:00:10\) and swap used grew from 0\.0 GiB \(14:00:05\) to 2\.0 GiB \(14:00:10\); at the last sample \(14:00:30\) the compressor was at 3\.0 GiB \(not given back\) and swap used was at 2\.0 GiB \(not given back\)\.$/)
  let calm = ''
  pct.forEach((v, i) => (calm += block(i * 5, vm(3, 0.5) + swap(0) + mp(v))))
  t.same(kinds(build(H, calm)), ['low-free'])
})

t.test('memory not given back after a runner exits; given back is no finding', async t => {
  let p = H
  for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  for (let s = 10; s < 30; s++) p += `${ts(s)}\t11\t10\tollama\t5000000\t1\t${runner('qwen3:8b')}\n`
  const stuck = [70, 70, 40, 40, 40, 40, 40, 40, 45, 45, 45, 45].map((v, i) => block(i * 5, mp(v))).join('')
  const f = build(p, stuck)
  t.same(kinds(f), ['not-given-back'])
  t.match(f[0]!.text, /^Runner PID 11 for qwen3:8b exited at 14:00:29, but free memory was at most 45% in the minute after \(14:00:40\), against 70% at 14:00:05 before it started: memory not given back\.$/)
  const freed = [70, 70, 40, 40, 40, 40, 40, 69, 70, 70, 70, 70].map((v, i) => block(i * 5, mp(v))).join('')
  t.same(build(p, freed), [])
})

t.test('a four-hour trace with dozens of loads of four models reads in at most about 12 lines', async t => {
  const models = ['qwen2.5-coder:7b', 'llama3.3:70b', 'gemma3:27b', 'phi4:14b']
  const loads = 48
  const every = 300 // a switch every five minutes, each new runner starting 10 s before the old one exits
  const rows: string[] = [H.trimEnd()]
  let sys = ''
  for (let s = 0; s < loads * every; s += 5) {
    const k = Math.floor(s / every)
    const inOverlap = k > 0 && s % every < 10
    const loaded = s % every >= 5
    sys += block(s, vm(3 + (loaded ? 4 + (k % 4) * 3 : 0), 0.4 + (inOverlap ? 1 : 0)) + mp(inOverlap ? 12 : 55) + api(loaded ? [[models[k % 4] as string, 6e9 + k]] : []))
  }
  for (let s = 0; s < loads * every; s++) {
    rows.push(`${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve`)
    const k = Math.floor(s / every)
    if (s % every >= 2) rows.push(`${ts(s)}\t${1000 + k}\t10\tollama\t${5_800_000 + k * 1000}\t1\t${runner(models[k % 4] as string)}`)
    if (k + 1 < loads && s % every >= every - 10) rows.push(`${ts(s)}\t${1000 + k + 1}\t10\tollama\t${5_800_000 + (k + 1) * 1000}\t1\t${runner(models[(k + 1) % 4] as string)}`)
  }
  const f = build(`${rows.join('\n')}\n`, sys)
  t.ok(f.length <= 12, `${f.length} lines: ${kinds(f).join(', ')}`)
  t.ok(f.length >= 3, 'and still says what happened')
  t.equal(f[0]!.kind, 'low-free', 'free memory under 12% with the compressor growing: exhausted, first')
  t.notOk(kinds(f).includes('runner-overlap'), 'free memory stayed at 55% during each overlap: a line in the report, not a headline')
  t.match(overlapDrafts(`${rows.join('\n')}\n`, sys)[0]!.text, /alive together 47 times/)
})

t.test('overlaps grouped in one line quote samples inside the overlaps only', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 200; s++) {
    p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${ts(s)}\t11\t10\tollama\t3000000\t1\t${runner('a:7b')}\n`
    if ((s >= 50 && s <= 60) || (s >= 100 && s <= 110) || (s >= 150 && s <= 160)) p += `${ts(s)}\t${12 + Math.floor(s / 50)}\t10\tollama\t1000000\t1\t${runner('b:7b')}\n`
  }
  // The worst sample (10% free, 20 GiB wired) is at 80 s, outside every overlap.
  for (let s = 0; s < 200; s += 5) sys += block(s, vm(s === 80 ? 20 : s === 105 ? 9 : 5, 0.5) + mp(s === 80 ? 10 : s === 55 ? 40 : 60))
  const ov = overlapDrafts(p, sys)[0]!
  t.match(ov.text, /alive together 3 times/)
  t.match(ov.text, /During those overlaps free memory stayed at 40% or more \(lowest at 14:00:55\); wired peaked at 9\.0 GiB \(14:01:45\)/)
})

t.test('unified memory: RSS under Ollama\'s figure for a model on the GPU is no finding; over it is', async t => {
  const f = await sample('seed-loops')
  t.notOk(f.some(x => x.kind === 'claim-vs-measured'), 'Metal buffers need not show in RSS')
  t.notMatch(f.map(x => x.text).join('\n'), /−\d+%/)
})

t.test('an orphan never listed "did not" appear, rather than "no longer"', async t => {
  let p = H
  let sys = ''
  for (let s = 0; s < 40; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n${s >= 5 ? `${ts(s)}\t11\t10\tollama\t3000000\t1\t${runner('qwen3:8b')}\n` : ''}`
  for (let s = 0; s < 40; s += 5) sys += block(s, mp(60) + api([]))
  const f = build(p, sys)
  t.match(f[0]!.text, /^Runner PID 11 for qwen3:8b was alive while \/api\/ps did not list qwen3:8b: from 14:00:05/)
})

t.test('a trace across midnight gives the date with every time', async t => {
  const at = (s: number) => new Date(Date.UTC(2026, 1, 25, 23, 59, 0) + s * 1000).toISOString().replace('.000', '')
  let sys = ''
  ;[60, 20, 20, 20, 60].forEach((v, i) => (sys += `===== ${at(i * 30)} =====\n${mp(v)}`))
  const f = build(H, sys)
  t.match(f.find(x => x.kind === 'low-free')!.text, /from 2026-02-25 23:59:30 to 2026-02-26 00:01:00/)
})

t.test('samples the daemon dropped on a full disk are said, not reported as damage', async t => {
  const sys = block(0, mp(60)) + block(5, `memtrace dropped {"ts":"${ts(4)}","file":"process","bytes":524288,"reason":"more was held back than the limit while writes failed"}\n${mp(60)}`)
  const { problems } = parseSys(sys)
  t.equal(problems.total, 0, 'a known event line')
  const f = build(H, sys)
  t.same(kinds(f), ['gap'])
  t.match(f[0]!.text, /^memtrace dropped 512 KiB of whole samples from the process file at 14:00:04: writes failed \(a full disk\)/)
})

t.test("a runner the kernel's OOM killer killed is the first finding, with its RSS at its last sample and the container's usage and limit then", async t => {
  const lsrv = (m: string) => `/usr/lib/ollama/llama-server --model /m/blobs/${m} --port 40123 -c 8192 -np 1`
  let proc = H
  for (let s = 0; s <= 20; s++) {
    proc += `${ts(s)}\t800\t1\tollama\t60000\t1\t/usr/bin/ollama serve\n`
    if (s <= 12) proc += `${ts(s)}\t4412\t800\tllama-server\t${30_000_000 + s * 100_000}\t1\t${lsrv('sha256-' + 'a'.repeat(64))}\n`
  }
  const cg = (usage: number) => `MemTotal:       65536000 kB\nMemFree:        1000000 kB\nMemAvailable:   2000000 kB\ncgroup: /docker/abc\n/sys/fs/cgroup/memory.current:${usage}\n/sys/fs/cgroup/memory.max:34359738368\n`
  let sys = ''
  for (let s = 0; s <= 20; s += 5) sys += block(s, cg(s <= 10 ? 34_000_000_000 : 2_000_000_000) + (s === 15 ? `memtrace oom-kill {"ts":"${ts(15)}","pid":4412,"text":"llama-server","bytes":31200000000,"model":"llama3.3:70b","source":"cgroup","message":"x"}\n` : ''))
  const f = build(proc, sys)
  t.equal(f[0]?.kind, 'oom-kill', 'the harm first')
  t.same(f[0]?.pids, [4412])
  t.equal(f[0]?.figures?.rssBytes, 31_200_000 * 1024, 'the RSS of its last sample, 14:00:12')
  t.match(f[0]?.text, /^The kernel's OOM killer killed runner PID 4412 for .+: it held 29\.8 GiB RSS at its last sample, 14:00:12; the container used 31\.7 GiB of its 32\.0 GiB limit at 14:00:10\. The container's OOM-kill count rose while it vanished\.$/)
  t.same(f[0]?.figures, { rssBytes: 31_200_000 * 1024, cgroupUsageBytes: 34_000_000_000, cgroupLimitBytes: 34_359_738_368 })
})

t.test("a server restarted on purpose, and marked so, is its marker, not a server that did not answer", async t => {
  const trace = (mark: string | undefined) => {
    let p = H
    let sys = ''
    for (let s = 0; s < 60; s++) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
    for (let s = 0; s < 60; s += 5) {
      // Down from 20 s to 30 s, as memtrace bench stops one step's server and starts the next one's.
      const down = s >= 20 && s <= 30
      sys += block(s, `${s === 20 && mark ? `memtrace marker ${JSON.stringify({ ts: ts(22), text: mark })}\n` : ''}${down ? `memtrace source-error ${JSON.stringify({ ts: ts(s), source: 'api-ps', message: 'fetch failed: connect ECONNREFUSED 127.0.0.1:41234' })}\n` : ''}${mp(70)}`)
    }
    return build(p, sys)
  }
  t.same(kinds(trace(undefined)), ['server-unanswered'], 'unmarked, the silence is a finding')
  t.same(kinds(trace('NUM_PARALLEL=2')), ['server-unanswered'], 'a marker that says no restart explains nothing')
  t.same(kinds(trace('NUM_PARALLEL=2, restart')), [], 'a restart marker explains it')
})
