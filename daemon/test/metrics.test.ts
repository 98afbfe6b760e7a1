import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Metrics, type MetricProcess } from '../metrics.js'
import { parseMetricsAddress } from '../metrics-address.js'
import { parseStartArgs } from '../config.js'
import { block } from '../../core/test/helpers.js'
import { freePort, memtrace, read, sleep } from './helpers.js'

const GIB = 2 ** 30
const meminfo = (totalKb: number, availKb: number) => `MemTotal: ${totalKb} kB\nMemFree: ${availKb - 1000} kB\nMemAvailable: ${availKb} kB\nSwapTotal: 2097148 kB\nSwapFree: 1048574 kB\n`
const apiPs = (models: { name: string; size: number; vram: number; ctx?: number }[]) =>
  JSON.stringify({ models: models.map(m => ({ name: m.name, model: m.name, size: m.size, size_vram: m.vram, digest: 'ab'.repeat(32), context_length: m.ctx ?? 4096, expires_at: '2026-02-25T14:08:12Z' })) })

/** The value of one series in the exposition text, by its exact label set. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const runner = (pid: number, model: string, gib: number, o: Partial<MetricProcess> = {}): MetricProcess => ({ pid, ppid: 10, role: 'runner', model, rssBytes: gib * GIB, parallel: 2, ctxCells: 8192, ...o })

t.test('--metrics takes PORT, HOST:PORT or [V6]:PORT; loopback unless told', async t => {
  t.same(parseMetricsAddress('9464'), { host: '127.0.0.1', port: 9464 })
  t.same(parseMetricsAddress('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 })
  t.same(parseMetricsAddress('[::1]:9464'), { host: '::1', port: 9464 })
  for (const bad of ['', 'x', '70000', 'host:', ':9464', 'a b:1']) t.throws(() => parseMetricsAddress(bad), /expected \[HOST:\]PORT/, JSON.stringify(bad))
})

t.test('--metrics-runtime adds prom-client\'s own series to --metrics, and means nothing without it', async t => {
  t.match(parseStartArgs(['--metrics', '9464', '--metrics-runtime'], {}), { metricsRuntime: true })
  t.notOk((parseStartArgs(['--metrics', '9464'], {}) as { metricsRuntime?: boolean }).metricsRuntime)
  t.throws(() => parseStartArgs(['--metrics-runtime'], {}), /--metrics-runtime adds to --metrics: give --metrics \[HOST:\]PORT too/)
})

t.test('one sample of each: processes by role and model, the system, /api/ps, accounting', async t => {
  const m = new Metrics()
  m.processes([{ pid: 10, ppid: 1, role: 'server', rssBytes: 0.1 * GIB }, runner(11, 'qwen3:8b', 5), runner(12, 'qwen3:8b', 1), { pid: 13, ppid: 1, role: 'other', rssBytes: 0.5 * GIB }], 1000)
  const sys = block(`${meminfo(16_777_216, 4_194_304)}some avg10=12.50 avg60=3.00 avg300=1.00 total=100\nfull avg10=2.00 avg60=1.00 avg300=0.50 total=10\n${apiPs([{ name: 'qwen3:8b', size: 5 * GIB, vram: 0, ctx: 4096 }])}`).sample
  m.system(sys, true)
  const text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_process_resident_bytes{role="runner",model="qwen3:8b"}'), 6 * GIB, 'two runners of one model: summed')
  t.equal(value(text, 'memtrace_process_resident_bytes{role="server",model=""}'), 0.1 * GIB)
  t.equal(value(text, 'memtrace_process_resident_bytes{role="other",model=""}'), 0.5 * GIB)
  t.equal(value(text, `memtrace_runner_info{model="qwen3:8b",digest="${'ab'.repeat(32)}",pid="11",parallel="2",ctx="4096"}`), 1, 'the PID is a label of runner_info only')
  t.equal(value(text, 'memtrace_system_memory_total_bytes'), 16 * GIB)
  t.equal(value(text, 'memtrace_system_memory_available_bytes'), 4 * GIB)
  t.equal(value(text, 'memtrace_system_memory_free_bytes'), (4_194_304 - 1000) * 1024, 'MemFree, apart from MemAvailable')
  t.equal(value(text, 'memtrace_swap_used_bytes'), 1_048_574 * 1024)
  t.equal(value(text, 'memtrace_swap_total_bytes'), 2_097_148 * 1024)
  t.equal(value(text, 'memtrace_system_memory_wired_bytes'), undefined, 'a figure the host does not have is absent, not 0')
  t.equal(value(text, 'memtrace_cgroup_memory_limit_bytes'), undefined)
  t.equal(value(text, 'memtrace_system_memory_free_ratio'), 0.25, 'a ratio from 0 to 1')
  t.equal(value(text, 'memtrace_memory_pressure_stalled_seconds_total{scope="system",kind="some"}'), 100 / 1e6, "PSI's total=, microseconds as seconds")
  t.equal(value(text, 'memtrace_memory_pressure_stalled_seconds_total{scope="system",kind="full"}'), 10 / 1e6)
  t.equal(value(text, 'memtrace_oom_kills_total{source="kernel"}'), 0, 'on Linux the kills are watched: 0 until one')
  t.equal(value(text, 'memtrace_oom_kills_total{source="cgroup"}'), undefined, 'no cgroup, no cgroup count')
  t.equal(value(text, 'memtrace_model_evictions_total'), undefined, 'no server log followed: no eviction count')
  t.equal(value(text, 'memtrace_ollama_up'), 1)
  t.equal(value(text, 'memtrace_ollama_model_loaded_bytes{model="qwen3:8b"}'), 5 * GIB)
  t.equal(value(text, 'memtrace_ollama_model_vram_bytes{model="qwen3:8b"}'), 0)
  t.equal(value(text, 'memtrace_runner_deaths_while_listed_total'), 0)
  t.equal(value(text, 'memtrace_model_accounting_ratio{model="qwen3:8b",memory="system"}'), 6 / 5, 'RSS against what Ollama keeps in system memory')
  t.equal(value(text, 'memtrace_model_claimed_bytes{model="qwen3:8b",memory="system"}'), 5 * GIB)
  t.equal(value(text, 'memtrace_model_accounting_ratio{model="qwen3:8b",memory="gpu"}'), undefined, 'nothing on the GPU: no GPU comparison')
  t.equal(value(text, 'memtrace_runner_overlap_seconds_total'), 0, 'one sample is no span yet')
  t.match(text, new RegExp(`^memtrace_build_info\\{version="unknown",node_version="${process.version.replace(/\./g, '\\.')}"\\} 1$`, 'm'))
  t.notMatch(text, /^(process|nodejs)_/m, "memtrace's own runtime figures only with --metrics-runtime")
  const runtime = new Metrics(1000, { runtime: true, version: '1.2.3' })
  runtime.processes([{ pid: 10, ppid: 1, role: 'server', rssBytes: 0.1 * GIB }], 1000)
  const withRuntime = await runtime.registry.metrics()
  t.match(withRuntime, /^process_resident_memory_bytes \d+/m, "with --metrics-runtime: memtrace's own process, under prom-client's names")
  t.notMatch(withRuntime, /^process_[a-z_]+\{[^}]*(role|model)=/m, "Ollama's processes never appear under process_*")
  t.match(withRuntime, /^memtrace_build_info\{version="1\.2\.3",/m)
})

t.test('the overlap counter grows by the time two runners held memory; a runner with nothing left does not count', async t => {
  const m = new Metrics(1000)
  const overlap = async () => value(await m.registry.metrics(), 'memtrace_runner_overlap_seconds_total')
  m.processes([runner(11, 'a:1b', 1)], 0)
  m.processes([runner(11, 'a:1b', 1), runner(12, 'b:1b', 1)], 1000)
  t.equal(await overlap(), 0, 'the first shared sample starts the overlap, as on the chart')
  m.processes([runner(11, 'a:1b', 1), runner(12, 'b:1b', 1)], 2000)
  m.processes([runner(11, 'a:1b', 1), runner(12, 'b:1b', 1)], 4000)
  t.equal(await overlap(), 3, 'one second, then two more (a tick was missed)')
  m.processes([runner(11, 'a:1b', 1), runner(12, 'b:1b', 1)], 3_600_000)
  t.equal(await overlap(), 3, 'a gap (the machine slept) is not counted')
  m.processes([runner(11, 'a:1b', 0), runner(12, 'b:1b', 1)], 3_601_000)
  t.equal(await overlap(), 3, 'an exiting runner (RSS 0) is not beside the next')
})

t.test('an orphan is a runner whose model two answers in a row did not list; memtrace_ollama_up 0 when the server is down', async t => {
  const m = new Metrics()
  const orphans = async () => value(await m.registry.metrics(), 'memtrace_orphan_runners')
  m.processes([runner(11, 'a:1b', 1)], 0)
  const listed = block(`${meminfo(8_388_608, 4_194_304)}${apiPs([{ name: 'a:1b', size: GIB, vram: 0 }])}`).sample
  const empty = block(`${meminfo(8_388_608, 4_194_304)}{"models":[]}`).sample
  m.system(listed, true)
  t.equal(await orphans(), 0)
  m.system(empty, true)
  t.equal(await orphans(), 0, 'one answer without it: it may be unloading')
  m.system(empty, true)
  t.equal(await orphans(), 1)
  m.processes([runner(11, 'a:1b', 1), runner(13, 'c:1b', 1)], Date.now() + 1)
  t.equal(await orphans(), 1, 'a runner that started after those answers is not one yet')
  m.system(block(meminfo(8_388_608, 4_194_304)).sample, false)
  const text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_ollama_up'), 0)
  t.equal(value(text, 'memtrace_orphan_runners'), 0, 'no answer is no evidence')
  t.notMatch(text, /^memtrace_ollama_model_loaded_bytes\{/m, 'no model figures from a server that did not answer')
})

t.test('accounting on a GPU host: the runner\'s own GPU memory against size_vram, where nvidia-smi lists its PID', async t => {
  const m = new Metrics()
  m.processes([runner(11, 'a:7b', 1)], 0)
  const smi = 'gpu_uuid, pid, used_gpu_memory [MiB]\nGPU-1, 11, 4096 MiB\n'
  const gpus = 'index, uuid, name, memory.used [MiB], memory.total [MiB]\n0, GPU-1, X, 4500 MiB, 24564 MiB\n'
  m.system(block(`${meminfo(8_388_608, 4_194_304)}${gpus}${smi}${apiPs([{ name: 'a:7b', size: 6 * GIB, vram: 5 * GIB }])}`).sample, true)
  const text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_model_accounting_ratio{model="a:7b",memory="system"}'), 1, 'RSS against size - size_vram')
  t.equal(value(text, 'memtrace_model_accounting_ratio{model="a:7b",memory="gpu"}'), 4 / 5, 'its own GPU memory against size_vram, apart: the two never cancel out')
  t.equal(value(text, 'memtrace_model_claimed_bytes{model="a:7b",memory="gpu"}'), 5 * GIB)
  t.equal(value(text, 'memtrace_gpu_memory_used_bytes{gpu="0"}'), 4500 * 2 ** 20)
  t.equal(value(text, 'memtrace_gpu_memory_total_bytes{gpu="0"}'), 24564 * 2 ** 20, 'the total apart from the part: a sum over GPUs means one thing')
  t.equal(value(text, 'memtrace_process_gpu_memory_bytes{model="a:7b",gpu="0"}'), 4096 * 2 ** 20, "the runner's own GPU memory, by model and GPU")
})

t.test("a runner both nvidia-smi and Windows' GPU counters list: the counters' figure (every adapter) alone, never the two added", async t => {
  const m = new Metrics()
  m.processes([runner(11, 'a:7b', 1)], 0)
  const smi = 'gpu_uuid, pid, used_gpu_memory [MiB]\nGPU-1, 11, 4096 MiB\n'
  const gpus = 'index, uuid, name, memory.used [MiB], memory.total [MiB]\n0, GPU-1, X, 4500 MiB, 24564 MiB\n'
  const counter = (adapter: string, bytes: number) => `\\\\pc\\gpu process memory(pid_11_${adapter})\\dedicated usage :\n${bytes}\n\n`
  const counters = `Timestamp                 CounterSamples\n---------                 --------------\n11/30/2026 7:19:00 PM     ${counter('luid_0x00000000_0x000095ca_phys_0', 4 * GIB)}${counter('luid_0x00000000_0x0000a18d_phys_0', GIB / 2)}`
  m.system(block(`${meminfo(8_388_608, 4_194_304)}${gpus}${smi}\n${counters}${apiPs([{ name: 'a:7b', size: 10 * GIB, vram: 9 * GIB }])}`).sample, true)
  const text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_model_accounting_ratio{model="a:7b",memory="gpu"}'), 4.5 / 9, "the counters' NVIDIA and Intel instances against size_vram; nvidia-smi's row not added again")
  t.equal(value(text, 'memtrace_process_gpu_memory_bytes{model="a:7b",gpu="luid_0x00000000_0x0000a18d_phys_0"}'), GIB / 2, "the counters' adapter by its LUID, not by a number nvidia-smi's index could be taken for")
  t.equal(value(text, 'memtrace_process_gpu_memory_bytes{model="a:7b",gpu="luid_0x00000000_0x000095ca_phys_0"}'), 4 * GIB)
  t.equal(value(text, 'memtrace_process_gpu_memory_bytes{model="a:7b",gpu="0"}'), undefined, "nvidia-smi's row of the same PID not added")
})

t.test("a Windows sample: its available memory, its commit charge and its limit, each a gauge; no commit gauge on Linux", async t => {
  const m = new Metrics()
  m.processes([runner(11, 'a:7b', 1)], 0)
  const counter = (name: string, bytes: number) => `\\\\pc\\memory\\${name} :\n${bytes}\n\n`
  const win = `Total Physical Memory:     32,562 MB\n\nTimestamp                 CounterSamples\n---------                 --------------\n11/30/2026 7:19:00 PM     ${counter('available bytes', 10_217_578_496)}${counter('committed bytes', 36_378_972_160)}${counter('commit limit', 39_244_005_376)}`
  m.system(block(win).sample, true)
  const text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_system_memory_available_bytes'), 10_217_578_496, 'Memory\\Available Bytes')
  t.equal(value(text, 'memtrace_system_commit_bytes'), 36_378_972_160, 'Memory\\Committed Bytes')
  t.equal(value(text, 'memtrace_system_commit_limit_bytes'), 39_244_005_376, 'Memory\\Commit Limit')
  t.equal(value(text, 'memtrace_system_memory_total_bytes'), 32_562 * 2 ** 20, "systeminfo's total")
  m.system(block(meminfo(8_388_608, 4_194_304)).sample, true)
  const linux = await m.registry.metrics()
  t.equal(value(linux, 'memtrace_system_commit_bytes'), undefined, 'a Linux sample has no commit charge')
  t.equal(value(linux, 'memtrace_system_commit_limit_bytes'), undefined)
})

t.test('memtrace start --metrics serves the last sample; an address in use fails the start with the reason', async t => {
  // Stopped before tap removes the folder (a teardown made after t.testdir runs once it is gone), even when a check fails.
  t.teardown(() => memtrace(['stop', '--dir', join(t.testdirName, 'a')]))
  const dir = t.testdir({})
  const port = await freePort()
  const secret = 'sk-live-do-not-publish'
  // A traced process whose command line holds a secret: it must not reach any label.
  const decoy = spawn('sleep', ['30'], { argv0: `ollama-helper --token ${secret}`, stdio: 'ignore' })
  t.teardown(() => decoy.kill())
  const started = memtrace(['start', '--dir', join(dir, 'a'), '--metrics', `127.0.0.1:${port}`, '--system-interval', '1s', '--ollama-url', 'http://127.0.0.1:9'])
  t.equal(started.code, 0, started.stderr)
  t.match(started.stdout, new RegExp(`metrics: http://127\\.0\\.0\\.1:${port}/metrics`))
  await sleep(2500)
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  t.ok((value(text, 'memtrace_samples_total{kind="process"}') ?? 0) >= 2, 'samples counted')
  // Other tests' stand-in servers on this host are traced too (any `ollama serve` is): the daemon then asks each server it
  // finds, by its own address, and labels the gauge by server. Only on a host with no other server is port 9 the one asked.
  if (/^memtrace_ollama_up\{server=/m.test(text)) t.notMatch(text, /^memtrace_ollama_up \d/m, 'several servers: one gauge per server, none unlabelled')
  else t.equal(value(text, 'memtrace_ollama_up'), 0, 'nothing answers on port 9')
  t.match(text, /^memtrace_process_resident_bytes\{role="other",model=""\} \d+/m, 'the traced helper, by role only')
  t.notOk(text.includes(secret) || text.includes('sleep'), 'no command line in any label')
  t.match(memtrace(['status', '--dir', join(dir, 'a')]).stdout, new RegExp(`metrics: http://127\\.0\\.0\\.1:${port}/metrics`))
  t.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404)

  const busy = memtrace(['start', '--dir', join(dir, 'b'), '--metrics', `127.0.0.1:${port}`])
  t.equal(busy.code, 2)
  t.match(busy.stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: EADDRINUSE`))
  t.match(memtrace(['status', '--dir', join(dir, 'b')]).stdout, /^not running/, 'no daemon is left tracing without its metrics')
  t.notMatch(read(join(dir, 'b', 'memtrace.log')), /tracing started/)
  // A refused start leaves nothing behind: the folder it made is gone, so no empty trace is left for render --dir to take as the newest.
  t.notOk(existsSync(join(dir, 'b')), 'the folder the refused start made is removed')
  t.equal(memtrace(['stop', '--dir', join(dir, 'a')]).code, 0)
})


t.test('a scrape gets the text made at the last sample: the same until the next sample', async t => {
  const m = new Metrics()
  m.processes([runner(11, 'a:1b', 1)], 0)
  const first = await m.text()
  await new Promise(r => setTimeout(r, 20))
  t.equal(await m.text(), first, "nothing is read again between samples, not even memtrace's own figures")
  m.processes([runner(11, 'a:1b', 2)], 1000)
  t.not(await m.text(), first, 'the next sample makes a new text')
  t.equal(value(await m.text(), 'memtrace_process_resident_bytes{role="runner",model="a:1b"}'), 2 * GIB)
})
