import t from 'tap'
import { classify, modelFromArg } from '../../core/model/roles.js'
import type { Trace } from '../../core/model/trace.js'
import { lowFreeIntervals, runnerOverlaps } from '../../core/model/intervals.js'
import { toPixels } from '../chart/decimate.js'
import { processLabel } from '../../core/model/labels.js'
import { traceOf } from './trace-of.js'

const BLOB = 'sha256-5ff0abeeac1d2dbdd5455c0b49ba3b29a9ce3c1fb181b2eef2e948689d55d046'

t.test('roles across Ollama generations', async t => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    ['ollama', '/usr/local/bin/ollama serve', 'server', undefined, undefined],
    ['/Applications/Ollama.app/Contents/Resources/ollama', '/Applications/Ollama.app/Contents/Resources/ollama serve', 'server', undefined, undefined],
    ['/Applications/Ollama.app/Contents/MacOS/Ollama', '/Applications/Ollama.app/Contents/MacOS/Ollama', 'other', undefined, undefined],
    ['ollama', `/usr/local/bin/ollama runner --model /usr/share/ollama/.ollama/models/blobs/${BLOB} --ctx-size 49152 --batch-size 512 --n-gpu-layers 28 --threads 32 --parallel 2 --port 35375`, 'runner', 'ollama', BLOB],
    ['ollama', `ollama runner --ollama-engine --model /m/blobs/${BLOB} --port 56300`, 'runner', 'ollama-engine', BLOB],
    ['ollama.exe', `ollama.exe runner --ollama-engine --model O:\\models\\blobs\\${BLOB} --port 56300`, 'runner', 'ollama-engine', BLOB],
    ['llama-server', `/usr/local/lib/ollama/llama-server --model /m/blobs/${BLOB} --port 40111 --host 127.0.0.1 --no-webui --offline -c 8192 -np 2`, 'runner', 'llama-server', BLOB],
    ['ollama_llama_se', `/tmp/ollama123/runners/cuda_v12/ollama_llama_server --model /m/blobs/${BLOB} --ctx-size 2048 --port 1234`, 'runner', 'ollama_llama_server', BLOB],
    ['ollama', 'ollama runner --mlx-engine --model qwen3.8-27b-72k-mlx:latest --port 5000', 'runner', 'mlx', 'qwen3.8-27b-72k-mlx:latest'],
    ['ollama-mlx', '/Applications/Ollama.app/Contents/Resources/ollama-mlx runner --image-engine --model x/flux2:latest --port 5001', 'runner', 'imagegen', 'x/flux2:latest'],
    ['ollama-runner', `/w/llama.cpp/gguf/build/metal/bin/ollama-runner --model /m/blobs/${BLOB} --port 5002`, 'runner', 'ollama-runner', BLOB],
    ['llama-server', '/usr/local/lib/ollama/llama-server --port 51234 --host 127.0.0.1 --no-webui --offline --verbose', 'discovery', 'llama-server', undefined],
    ['ollama', '/usr/local/bin/ollama runner --ollama-engine --port 41000', 'discovery', 'ollama-engine', undefined],
    ['python3', 'python3 -m mlx_lm.server --model mlx-community/Qwen3-8B-4bit --port 8080', 'runner', 'mlx-lm', 'mlx-community/Qwen3-8B-4bit'],
    ['llama-server', '/opt/llama.cpp/llama-server -m /models/Llama-3.2-3B-Q4_K_M.gguf --port 8080', 'runner', 'llama-server', 'Llama-3.2-3B-Q4_K_M'],
    ['bash', 'bash /opt/stand-in/ollama serve', 'server', undefined, undefined],
    ['tail', 'tail -f /var/log/ollama.log', 'other', undefined, undefined],
    // Apple's ps cuts comm to 16 bytes; the app bundle's path may hold spaces (Ollama's relaunch code expects "Ollama 2.app").
    ['/Applications/Ol', '/Applications/Ollama 2.app/Contents/Resources/ollama serve', 'server', undefined, undefined],
    ['/Applications/Ol', `/Applications/Ollama 2.app/Contents/Resources/ollama runner --ollama-engine --model /Users/d/.ollama/models/blobs/${BLOB} --port 51234`, 'runner', 'ollama-engine', BLOB],
    ['/Applications/Ol', `/Applications/My Apps/Ollama.app/Contents/Resources/llama-server --model /Users/d/.ollama/models/blobs/${BLOB} --port 51235 -c 8192 -np 1`, 'runner', 'llama-server', BLOB],
    ['/Applications/Ol', '/Applications/Ollama 2.app/Contents/MacOS/Ollama', 'other', undefined, undefined],
    ['vim', 'vim /tmp/ollama serve', 'other', undefined, undefined],
    ['/usr/bin/less', '/usr/bin/less /var/log/ollama serve', 'other', undefined, undefined],
  ]
  for (const [comm, cmd, role, engine, model] of cases) {
    const c = classify(comm, cmd)
    t.equal(c.role, role, cmd)
    t.equal(c.engine, engine, `${cmd} engine`)
    if (model !== undefined) {
      const m = modelFromArg(c.modelArg as string)
      t.equal('blob' in m ? m.blob : m.model, model, `${cmd} model`)
    }
  }
})

const H = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
const ts = (s: number) => new Date(Date.UTC(2026, 1, 25, 14, 0, s)).toISOString().replace('.000', '')
const row = (s: number, pid: number, rss: number, cmd: string, ppid = 100) => `${ts(s)}\t${pid}\t${ppid}\tx\t${rss}\t1\t${cmd}\n`
const runner = (blob: string) => `/usr/local/lib/ollama/llama-server --model /m/blobs/${blob} --port 1`

const build = (proc: string, sys = ''): Trace => traceOf(proc, sys)

function apiBlock(s: number, models: [string, number][]): string {
  const body = { models: models.map(([name, size]) => ({ name, model: name, size, digest: 'd', details: {}, expires_at: '2026-02-25T14:30:00Z', size_vram: size })) }
  return `===== ${ts(s)} =====\n${JSON.stringify(body)}\n`
}

t.test('a reused PID is a new process; placeholders are left out', async t => {
  let p = H
  for (let s = 0; s < 5; s++) p += row(s, 200, 1000, runner(BLOB))
  for (let s = 5; s < 10; s++) p += row(s, 200, 50, 'ollama serve')
  p += `${ts(3)}\t300\t1\t(ollama)\t1184\t1\t(ollama)\n`
  const trace = build(p)
  t.equal(trace.procs.length, 2)
  t.same(trace.procs.map(s => s.role), ['runner', 'server'])
  t.equal(trace.placeholders, 1)
})

t.test('runner names: the daemon mapping wins, then /api/ps by start time and size, then the blob', async t => {
  const b1 = `sha256-${'1'.repeat(64)}`
  const b2 = `sha256-${'2'.repeat(64)}`
  const b3 = `sha256-${'3'.repeat(64)}`
  let p = H
  for (let s = 0; s < 60; s++) {
    if (s >= 2 && s < 40) p += row(s, 201, 4_000_000, runner(b1))
    if (s >= 30) p += row(s, 202, 18_000_000, runner(b2))
    if (s >= 50) p += row(s, 203, 1_000_000, runner(b3))
  }
  let sys = ''
  for (let s = 0; s < 60; s += 5) {
    const models: [string, number][] = []
    if (s >= 30) models.push(['qwen3-coder:30b', 19e9])
    if (s >= 5 && s < 40) models.push(['qwen2.5-coder:7b', 4.7e9])
    sys += apiBlock(s, models)
  }
  sys = sys.replace(`===== ${ts(30)} =====\n`, `===== ${ts(30)} =====\nmemtrace runner {"pid":202,"model":"from-manifest:30b","blob":"${b2}"}\n`)
  const trace = build(p, sys)
  const names = trace.procs.map(s => [s.pid, s.model, s.modelSource])
  t.same(names, [
    [201, 'qwen2.5-coder:7b', 'api-ps-match'],
    [202, 'from-manifest:30b', 'trace'],
    [203, 'sha256-333333333333', 'blob'],
  ])
})

t.test('two runners that /api/ps lists at once are told apart by size', async t => {
  const b1 = `sha256-${'a'.repeat(64)}`
  const b2 = `sha256-${'b'.repeat(64)}`
  let p = H
  for (let s = 0; s < 20; s++) {
    p += row(s, 301, 2_000_000, runner(b1))
    p += row(s, 302, 9_000_000, runner(b2))
  }
  let sys = ''
  for (let s = 0; s < 20; s += 5) sys += apiBlock(s, [['big:latest', 9.5e9], ['small:latest', 2.1e9]])
  const trace = build(p, sys)
  t.same(trace.procs.map(s => s.model), ['small:latest', 'big:latest'])
})

t.test('runner overlap: sampled together, from first to last shared sample', async t => {
  let p = H
  for (let s = 0; s < 30; s++) {
    if (s < 20) p += row(s, 401, 100, runner(BLOB))
    if (s >= 15) p += row(s, 402, 100, runner(BLOB))
    p += row(s, 400, 10, 'ollama serve')
  }
  const ov = runnerOverlaps(build(p))
  t.same(ov.map(i => [ts(0) && new Date(i.startMs).toISOString(), new Date(i.endMs).toISOString()]), [['2026-02-25T14:00:15.000Z', '2026-02-25T14:00:19.000Z']])
  let calm = H
  for (let s = 0; s < 30; s++) calm += row(s, s < 15 ? 401 : 402, 100, runner(BLOB))
  t.same(runnerOverlaps(build(calm)), [], 'one after the other is no overlap')
  let disc = H
  for (let s = 0; s < 30; s++) disc += row(s, 401, 100, runner(BLOB)) + row(s, 403, 10, '/usr/local/lib/ollama/llama-server --port 5')
  t.same(runnerOverlaps(build(disc)), [], 'a discovery process is not a model runner')
  let exiting = H
  for (let s = 0; s < 30; s++) {
    if (s < 15) exiting += row(s, 401, 100, runner(BLOB))
    if (s === 15) exiting += row(s, 401, 0, runner(BLOB)) // killed: its memory already given back
    if (s >= 15) exiting += row(s, 402, 100, runner(BLOB))
  }
  t.same(runnerOverlaps(build(exiting)), [], 'a runner sampled with no memory left, as it exits, holds nothing beside the next')
})

t.test('low free memory intervals', async t => {
  const pct = [50, 40, 25, 20, 28, 35, 29, 50]
  let sys = ''
  pct.forEach((v, i) => (sys += `===== ${ts(i * 5)} =====\nThe system has 34359738368 (2097152 pages with a page size of 16384).\nSystem-wide memory free percentage: ${v}%\n`))
  const iv = lowFreeIntervals(build(H, sys), 30)
  t.same(iv.map(i => [(i.startMs - Date.UTC(2026, 1, 25, 14)) / 1000, (i.endMs - Date.UTC(2026, 1, 25, 14)) / 1000]), [[10, 25], [30, 35]])
  t.same(lowFreeIntervals(build(H, sys), 10), [])
})

t.test('decimation keeps a one-sample spike and breaks lines at gaps', async t => {
  const n = 86_400
  const ts = Array.from({ length: n }, (_, i) => i * 1000)
  const vals = Array.from({ length: n }, (_, i) => (i === 43_210 ? 1000 : 10))
  const x = (v: number) => (v / (n * 1000)) * 1000
  const y = (v: number) => 500 - v / 2
  const pts = toPixels(ts, vals, x, y, 2500, 1000)
  t.ok(pts.length <= 4 * 1000 + 10, `bounded: ${pts.length} points`)
  t.ok(pts.some(p => p !== null && p[1] === y(1000)), 'the spike survives')
  const gap = toPixels([0, 1000, 2000, 10_000, 11_000], [1, 2, 3, 4, 5], x, y, 2500, 1000)
  t.same(gap.map(p => p === null), [false, false, false, true, false, false])
  const nan = toPixels([0, 1000, 2000, 3000], [1, NaN, 3, 4], x, y, 2500, 1000)
  t.same(nan.map(p => p === null), [false, true, false, false])
})

t.test('legend labels: role · model · pid, and a short name for other processes', async t => {
  let p = H
  p += row(0, 10, 1, 'ollama runner --mlx-engine --model qwen3:8b --port 1')
  p += row(0, 11, 1, '/usr/local/bin/ollama serve')
  p += row(0, 12, 1, 'bash /tmp/bin/ollama ps')
  p += row(0, 13, 1, '/Applications/Ollama.app/Contents/MacOS/Ollama')
  p += row(0, 14, 1, '/usr/local/lib/ollama/llama-server --port 9')
  t.same(build(p).procs.map(processLabel), [
    'runner · qwen3:8b · pid 10',
    'server · pid 11',
    'other · ollama ps · pid 12',
    'other · Ollama · pid 13',
    'discovery · pid 14',
  ])
})
