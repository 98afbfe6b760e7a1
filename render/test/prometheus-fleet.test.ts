/**
 * `render --prometheus` against what the daemon's `--metrics` exports: at a
 * 1 s step the system and /api/ps figures are read at the daemon's own
 * system interval (its `memtrace_samples_total`), two runners of one model
 * under two servers stay apart, and markers are drawn. A stand-in for
 * Prometheus's HTTP API answers each metric on the query's grid; the real
 * Prometheus is in daemon/test/prometheus.e2e.test.ts.
 */
import t from 'tap'
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { BIN } from '../../core/test/helpers.js'

const T0 = Date.UTC(2026, 10, 23, 2, 0, 0) / 1000
const GIB = 2 ** 30

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(ok => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', d => (stdout += d))
    c.stderr.on('data', d => (stderr += d))
    c.once('close', code => ok({ code: code ?? -1, stdout, stderr }))
  })
}

type Point = [number, string]
/** One series: `value(s)` at each whole second s (from T0) of the query's grid where it is defined. */
const series = (metric: Record<string, string>, value: (s: number) => number | undefined) => ({ metric, value })

/**
 * Two servers (PIDs 100 and 200) on one host, sampled every second, the system and /api/ps every 5 s,
 * each system sample done 2 s after its tick (nvidia-smi and two servers asked): a runner of m:1b under
 * each (PID 101 from 7 s to 37 s, PID 201 from 12 s on), each listed by its own server from the first
 * system sample after it started, until the one after it left; a marker at 20.5 s.
 */
function host(exports: 'tick' | 'counter' | 'neither') {
  const sys = (s: number) => Math.floor((s - 2) / 5) * 5 // the tick of the system sample a scrape at s sees
  const alive = (from: number, to = Infinity) => (s: number) => (s >= from && s <= to ? 1 : undefined)
  const listed = (from: number, to = Infinity) => (s: number) => (sys(s) >= from && sys(s) <= to ? 3 * GIB : undefined)
  const a = '127.0.0.1:11434'
  const b = '127.0.0.1:11435'
  const r1 = alive(7, 37)
  const r2 = alive(12)
  const all: Record<string, ReturnType<typeof series>[]> = {
    memtrace_process_pid_resident_bytes: [
      series({ pid: '100', ppid: '1', role: 'server', model: '' }, () => 300 * 2 ** 20),
      series({ pid: '200', ppid: '1', role: 'server', model: '' }, () => 200 * 2 ** 20),
      series({ pid: '101', ppid: '100', role: 'runner', model: 'm:1b' }, s => (r1(s) ? 3 * GIB : undefined)),
      series({ pid: '201', ppid: '200', role: 'runner', model: 'm:1b' }, s => (r2(s) ? 2.5 * GIB : undefined)),
    ],
    memtrace_process_resident_bytes: [
      series({ role: 'server', model: '' }, () => 500 * 2 ** 20),
      series({ role: 'runner', model: 'm:1b' }, s => (r1(s) ?? 0) * 3 * GIB + (r2(s) ?? 0) * 2.5 * GIB || undefined),
    ],
    memtrace_runner_info: [series({ model: 'm:1b', pid: '101', digest: 'abc' }, r1), series({ model: 'm:1b', pid: '201', digest: 'abc' }, r2)],
    memtrace_server_info: [series({ pid: '100', address: a }, () => 1), series({ pid: '200', address: b }, () => 1)],
    memtrace_ollama_up: [series({ server: a }, () => 1), series({ server: b }, () => 1)],
    memtrace_ollama_model_loaded_bytes: [series({ model: 'm:1b', server: a }, listed(10, 35)), series({ model: 'm:1b', server: b }, listed(15))],
    memtrace_system_memory_total_bytes: [series({}, () => 32 * GIB)],
    memtrace_system_memory_available_bytes: [series({}, () => 20 * GIB)],
    memtrace_system_memory_free_bytes: [series({}, () => 10 * GIB)],
    // The kernel's stalled time, moved at each system sample: 0.5 s a second of some, 0.1 s of full, from 30 s on.
    memtrace_memory_pressure_stalled_seconds_total: [
      series({ scope: 'system', kind: 'some' }, s => 1000 + Math.max(0, sys(s) - 30) * 0.5),
      series({ scope: 'system', kind: 'full' }, s => 400 + Math.max(0, sys(s) - 30) * 0.1),
    ],
    memtrace_marker_timestamp_seconds: [series({ text: 'switched to m:1b' }, s => (sys(s) >= 25 ? T0 + 20.5 : undefined))],
    memtrace_samples_total: exports !== 'neither' ? [series({ kind: 'system' }, s => 100 + sys(s) / 5), series({ kind: 'process' }, s => 500 + s)] : [],
    memtrace_last_sample_timestamp_seconds: exports === 'tick' ? [series({ kind: 'system' }, s => T0 + sys(s)), series({ kind: 'process' }, s => T0 + s)] : [],
  }
  return all
}

async function prometheus(t: import('tap').Test, all: Record<string, ReturnType<typeof series>[]>): Promise<string> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    res.setHeader('content-type', 'application/json')
    if (u.pathname === '/api/v1/targets') return void res.end(JSON.stringify({ status: 'success', data: { activeTargets: [{ labels: { instance: 'h:9464' }, scrapeInterval: '1s' }] } }))
    const name = (u.searchParams.get('query') ?? '').replace(/\{.*/, '')
    const [start, end, step] = ['start', 'end', 'step'].map(k => Number(u.searchParams.get(k))) as [number, number, number]
    const result = (all[name] ?? []).map(s => {
      const values: Point[] = []
      for (let at = start; at <= end + 1e-9; at += step) {
        const v = s.value(Math.round(at - T0))
        if (v !== undefined) values.push([at, String(v)])
      }
      return { metric: s.metric, values }
    })
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: result.filter(s => s.values.length > 0) } }))
  })
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok))
  t.teardown(() => server.close())
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

const kinds = (stdout: string) => [...stdout.matchAll(/"kind":\s*"([a-z-]+)"/g)].map(m => m[1])

t.test('at a 1 s step, /api/ps is read at the system interval: no false orphan, no false runner gone while listed', async t => {
  const dir = t.testdir({})
  const url = await prometheus(t, host('tick'))
  const r = await run(['render', '--prometheus', url, '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'x.svg'), '--json'])
  t.equal(r.code, 0, r.stderr)
  t.notOk(kinds(r.stdout).includes('orphan-runner'), 'each runner was listed by the first answer after it started')
  t.notOk(kinds(r.stdout).includes('runner-gone-while-listed'), 'the runner that left was unlisted by the next answer')
  const svg = readFileSync(join(dir, 'x.svg'), 'utf8')
  t.match(svg, /the system and \/api\/ps every 5 s/, "the chart says the system interval it read from the daemon's ticks")

  // A daemon with the sample counter but not the ticks: each block at the point that first saw it, 2 s late.
  const counted = await prometheus(t, host('counter'))
  const c = await run(['render', '--prometheus', counted, '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'counted.svg'), '--json'])
  t.equal(c.code, 0, c.stderr)
  t.match(readFileSync(join(dir, 'counted.svg'), 'utf8'), /the system and \/api\/ps every 5 s/)

  // Without the counter (an older daemon), the listing of 5 s before is read beside a runner that started since.
  const old = await prometheus(t, host('neither'))
  const o = await run(['render', '--prometheus', old, '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'old.svg'), '--json'])
  t.equal(o.code, 0, o.stderr)
  t.match(readFileSync(join(dir, 'old.svg'), 'utf8'), /exports no memtrace_samples_total/, 'and the chart says so')
  t.ok(kinds(o.stdout).includes('orphan-runner'), 'read at every step, the same series give false orphans: the counter is what removes them')
})

t.test('two runners of one model under two servers: two runner lines, two server lines, each listing its own; the marker drawn', async t => {
  const dir = t.testdir({})
  const url = await prometheus(t, host('tick'))
  const r = await run(['render', '--prometheus', url, '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'x.svg'), '--json'])
  t.equal(r.code, 0, r.stderr)
  const svg = readFileSync(join(dir, 'x.svg'), 'utf8')
  const lines = [...svg.matchAll(/class="rss-line" data-pid="(\d+)" data-role="(\w+)"(?: data-model="([^"]*)")?/g)].map(m => `${m[2]} ${m[1]}${m[3] ? ` ${m[3]}` : ''}`).sort()
  t.same(lines, ['runner 101 m:1b', 'runner 201 m:1b', 'server 100', 'server 200'])
  t.match(svg, /<g class="marker" data-ts="2026-11-23T02:00:20.500Z"/, 'the marker, at its own time')
  t.match(svg, /switched to m:1b/)
  t.notOk(kinds(r.stdout).includes('runner-overlap'), 'two servers each with one runner: no overlap within a server')
})

t.test("a model's GPU memory with two runners of it alive: given to neither, and the chart says so", async t => {
  const dir = t.testdir({})
  const all = host('tick')
  all.memtrace_gpu_memory_used_bytes = [series({ gpu: '0' }, () => 6 * GIB)]
  all.memtrace_gpu_memory_total_bytes = [series({ gpu: '0' }, () => 24 * GIB)]
  all.memtrace_process_gpu_memory_bytes = [series({ model: 'm:1b', gpu: '0' }, s => (s >= 7 ? 5.5 * GIB : undefined))]
  const url = await prometheus(t, all)
  const r = await run(['render', '--prometheus', url, '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'x.svg'), '--json'])
  t.equal(r.code, 0, r.stderr)
  const svg = readFileSync(join(dir, 'x.svg'), 'utf8')
  t.match(svg, /At \d+ system sample\(s\) a model had two runners at once: its GPU memory is one figure for both/)
  t.match(svg, /data-series="gpu-used"/, 'the GPU itself is drawn')
})

t.test("the note counts system samples, not series: a model on two GPUs at once is counted once a sample", async t => {
  const dir = t.testdir({})
  const shared = async (gpus: string[]) => {
    const all = host('tick')
    all.memtrace_gpu_memory_used_bytes = gpus.map(gpu => series({ gpu }, () => 6 * GIB))
    all.memtrace_gpu_memory_total_bytes = gpus.map(gpu => series({ gpu }, () => 24 * GIB))
    all.memtrace_process_gpu_memory_bytes = gpus.map(gpu => series({ model: 'm:1b', gpu }, s => (s >= 7 ? 2.5 * GIB : undefined)))
    const r = await run(['render', '--prometheus', await prometheus(t, all), '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, `${gpus.length}.svg`), '--json'])
    t.equal(r.code, 0, r.stderr)
    return Number(/At (\d+) system sample\(s\) a model had two runners at once/.exec(readFileSync(join(dir, `${gpus.length}.svg`), 'utf8'))?.[1])
  }
  const one = await shared(['0'])
  t.ok(one > 0, `two runners of m:1b alive at ${one} system samples`)
  t.equal(await shared(['0', '1']), one, 'the same samples with the model on two GPUs: the same count')
})

t.test("pressure from the daemon's counters of stalled time: the chart's pressure line, as the share of time stalled", async t => {
  const dir = t.testdir({})
  const r = await run(['render', '--prometheus', await prometheus(t, host('tick')), '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'x.svg'), '--json'])
  t.equal(r.code, 0, r.stderr)
  const svg = readFileSync(join(dir, 'x.svg'), 'utf8')
  t.match(svg, /data-series="psi"/, 'the pressure line is drawn')
  t.match(svg, /available %, pressure %/)
})

t.test('several servers, one down: its runner is not read as unlisted while it cannot answer', async t => {
  const dir = t.testdir({})
  const all = host('tick')
  const a = '127.0.0.1:11434'
  const sys = (s: number) => Math.floor((s - 2) / 5) * 5
  // The first server stops answering at its sample of 20 s (its runner 101 lives on to 37 s): up 0, and no listing of it, as the daemon exports them.
  all.memtrace_ollama_up = [series({ server: a }, s => (sys(s) >= 20 ? 0 : 1)), series({ server: '127.0.0.1:11435' }, () => 1)]
  all.memtrace_ollama_model_loaded_bytes = [series({ model: 'm:1b', server: a }, s => (sys(s) >= 10 && sys(s) < 20 ? 3 * GIB : undefined)), ...(all.memtrace_ollama_model_loaded_bytes ?? []).filter(x => x.metric.server !== a)]
  const r = await run(['render', '--prometheus', await prometheus(t, all), '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'x.svg'), '--json'])
  t.equal(r.code, 0, r.stderr)
  t.notOk(kinds(r.stdout).includes('orphan-runner'), 'a server that did not answer listed nothing: its runner is no orphan')
})

t.test("Windows' GPU counters, labelled by adapter (luid_…), come back as the runner's own GPU memory", async t => {
  const dir = t.testdir({})
  const all = host('tick')
  // One server, one runner (101, 7 s to 37 s): m:1b all on the GPU by Ollama's word, 2.5 GiB of it on one adapter by the counters'.
  all.memtrace_process_pid_resident_bytes = (all.memtrace_process_pid_resident_bytes ?? []).filter(s => s.metric.pid === '100' || s.metric.pid === '101')
  all.memtrace_runner_info = (all.memtrace_runner_info ?? []).filter(s => s.metric.pid === '101')
  all.memtrace_server_info = (all.memtrace_server_info ?? []).filter(s => s.metric.pid === '100')
  // One server: its listing and its up carry no server label, as the daemon exports them.
  const listed = (s: number) => (s >= 12 && s <= 37 ? 3 * GIB : undefined)
  all.memtrace_ollama_up = [series({}, () => 1)]
  all.memtrace_ollama_model_loaded_bytes = [series({ model: 'm:1b' }, listed)]
  all.memtrace_ollama_model_vram_bytes = [series({ model: 'm:1b' }, listed)]
  all.memtrace_process_gpu_memory_bytes = [series({ model: 'm:1b', gpu: 'luid_0x00000000_0x000095ca_phys_0' }, s => (s >= 7 && s <= 37 ? 2.5 * GIB : undefined))]
  const r = await run(['render', '--prometheus', await prometheus(t, all), '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'x.svg'), '--json'])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /skipped/, 'every counter written back reads')
  const claim = r.stdout.split('\n').filter(l => l.includes('"claim-vs-measured"')).join('\n')
  t.match(claim, /Windows' GPU counters gave pid 101 at most 2\.5 GiB of GPU memory \(02:00:10\)/, claim || r.stdout)
})

t.test("a Windows host: its commit charge against its limit comes back, and with it the finding that it reached the limit", async t => {
  const dir = t.testdir({})
  const all = host('tick')
  const sys = (s: number) => Math.floor((s - 2) / 5) * 5
  // 32 GiB of RAM, a 36 GiB commit limit; the commit charge at 34 GiB (94 %) from the sample of 20 s to that of 35 s.
  all.memtrace_system_memory_free_bytes = []
  all.memtrace_system_commit_bytes = [series({}, s => (sys(s) >= 20 && sys(s) <= 35 ? 34 * GIB : 20 * GIB))]
  all.memtrace_system_commit_limit_bytes = [series({}, () => 36 * GIB)]
  const r = await run(['render', '--prometheus', await prometheus(t, all), '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 60), '--tz', 'UTC', '-o', join(dir, 'x.svg'), '--json'])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /skipped/, 'every figure written back reads')
  const finding = r.stdout.split('\n').find(l => l.includes('"commit-limit"')) ?? ''
  t.match(finding, /Windows was at its commit limit from 02:00:20 to 02:00:35 \(15 s\): the commit charge was 34\.0 GiB of its 36\.0 GiB limit \(94%\) at 02:00:20, while 20\.0 GiB of physical memory was still available/, finding || r.stdout)
  const svg = readFileSync(join(dir, 'x.svg'), 'utf8')
  t.match(svg, /data-series="commit"/, 'the commit charge is drawn')
  t.match(svg, /data-series="commit-limit"/, 'and its limit')
})
