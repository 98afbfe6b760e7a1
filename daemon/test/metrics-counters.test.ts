/**
 * The metrics the alert rules watch for what kills runners: OOM kills,
 * runners that died while listed, evictions, memory pressure as counters of
 * stalled time, the container's usage and limit, macOS's pressure level.
 * Each is there where the host reports it, and absent, never 0, where not.
 */
import t from 'tap'
import { Metrics, type MetricProcess } from '../metrics.js'
import { block } from '../../core/test/helpers.js'

const GIB = 2 ** 30
const value = (text: string, series: string) => {
  const line = text.split('\n').find(l => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
const meminfo = 'MemTotal: 16777216 kB\nMemFree: 1048576 kB\nMemAvailable: 4194304 kB\n'
const listing = (...names: string[]) => JSON.stringify({ models: names.map(name => ({ name, model: name, size: GIB, size_vram: 0, digest: 'ab'.repeat(32), context_length: 4096, expires_at: '2026-02-25T14:08:12Z' })) })
const runner = (pid: number, model: string, ppid = 10): MetricProcess => ({ pid, ppid, role: 'runner', model, rssBytes: GIB })
const server: MetricProcess = { pid: 10, ppid: 1, role: 'server', rssBytes: 0.1 * GIB }

t.test("PSI's total= as a counter of seconds, the system's and the cgroup's; a total that went down starts the series again", async t => {
  const m = new Metrics()
  const psi = (some: number, full: number, cg: number) =>
    `${meminfo}some avg10=0.00 avg60=0.00 avg300=0.00 total=${some}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=${full}\n` +
    `cgroup: /system.slice/docker-1.scope\n/sys/fs/cgroup/system.slice/docker-1.scope/memory.current:${8 * GIB}\n/sys/fs/cgroup/system.slice/docker-1.scope/memory.max:${10 * GIB}\n` +
    `/sys/fs/cgroup/system.slice/docker-1.scope/memory.pressure:some avg10=0.00 avg60=0.00 avg300=0.00 total=${cg}\n/sys/fs/cgroup/system.slice/docker-1.scope/memory.pressure:full avg10=0.00 avg60=0.00 avg300=0.00 total=${cg / 2}\n`
  m.system(block(psi(12_000_000, 4_000_000, 2_000_000)).sample, true, 0)
  let text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_memory_pressure_stalled_seconds_total{scope="system",kind="some"}'), 12)
  t.equal(value(text, 'memtrace_memory_pressure_stalled_seconds_total{scope="system",kind="full"}'), 4)
  t.equal(value(text, 'memtrace_memory_pressure_stalled_seconds_total{scope="cgroup",kind="full"}'), 1)
  t.equal(value(text, 'memtrace_cgroup_memory_usage_bytes'), 8 * GIB)
  t.equal(value(text, 'memtrace_cgroup_memory_limit_bytes'), 10 * GIB)
  t.equal(value(text, 'memtrace_oom_kills_total{source="cgroup"}'), 0, 'a cgroup: its kills are counted, from 0')
  m.system(block(psi(12_500_000, 4_250_000, 2_000_000)).sample, true, 5000)
  text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_memory_pressure_stalled_seconds_total{scope="system",kind="full"}'), 4.25, 'grows by what the kernel counted')
  m.system(block(psi(1_000_000, 500_000, 2_000_000)).sample, true, 10_000)
  text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_memory_pressure_stalled_seconds_total{scope="system",kind="full"}'), 0.5, 'a lower total (a new boot): the new figure, a counter reset to Prometheus')
  m.system(block(meminfo).sample, true, 15_000)
  text = await m.registry.metrics()
  t.notMatch(text, /^memtrace_memory_pressure_stalled_seconds_total\{/m, 'a kernel without PSI: no series, not 0')
  t.equal(value(text, 'memtrace_cgroup_memory_usage_bytes'), undefined)
})

t.test('an OOM kill the daemon recorded counts by how it was seen; macOS has no count at all', async t => {
  const m = new Metrics()
  const kill = (source: string) => `memtrace oom-kill {"ts":"2026-10-10T09:09:05Z","pid":2688,"text":"llama-server","bytes":1,"model":"llama3.3:70b","source":"${source}","message":"x"}\n`
  for (const source of ['cgroup', 'vmstat', 'kernel']) {
    const b = block(`${kill(source)}${meminfo}`)
    m.system(b.sample, true, 0, b.events)
  }
  const text = await m.registry.metrics()
  t.equal(value(text, 'memtrace_oom_kills_total{source="cgroup"}'), 1, "the cgroup's memory.events")
  t.equal(value(text, 'memtrace_oom_kills_total{source="kernel"}'), 2, "the kernel's own line, or /proc/vmstat's count")
  const mac = new Metrics()
  // sysctl kern.memorystatus_vm_pressure_level prints `name: level` (daemon/test/fixtures/macos/README.md says where that is seen).
  mac.system(block('Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages free:    1000.\nPages wired down:   2000.\nkern.memorystatus_vm_pressure_level: 2\n').sample, true, 0)
  const macText = await mac.registry.metrics()
  t.notMatch(macText, /^memtrace_oom_kills_total/m, 'macOS: the kills are not watched, so no count, not 0')
  t.equal(value(macText, 'memtrace_macos_memory_pressure_level'), 2, 'warn')
  t.equal(value(macText, 'memtrace_system_memory_wired_bytes'), 2000 * 16384)
  t.equal(value(macText, 'memtrace_system_memory_free_bytes'), 1000 * 16384, 'free pages times the page size')
  t.equal(value(macText, 'memtrace_system_memory_available_bytes'), undefined, 'macOS has no MemAvailable')
  mac.system(block('Mach Virtual Memory Statistics: (page size of 16384 bytes)\nPages free:    1000.\nkern.memorystatus_vm_pressure_level: 3\n').sample, true, 5000)
  t.equal(value(await mac.registry.metrics(), 'memtrace_macos_memory_pressure_level'), undefined, 'a level the kernel does not have (3) is not passed on')
})

t.test('a runner that died while its server still listed it counts once; an unload and a restart do not', async t => {
  const m = new Metrics(1000)
  const deaths = async () => value(await m.registry.metrics(), 'memtrace_runner_deaths_while_listed_total')
  const sys = (at: number, ...names: string[]) => m.system(block(`${meminfo}${listing(...names)}`).sample, true, at)
  m.processes([server, runner(11, 'a:1b'), runner(12, 'b:1b')], 0)
  sys(0, 'a:1b', 'b:1b')
  t.equal(await deaths(), 0, 'there from the first answer')
  // a:1b is killed after 1 s; b:1b is unloaded (the server drops it, then it exits).
  m.processes([server, runner(12, 'b:1b')], 1000)
  sys(2000, 'a:1b')
  m.processes([server], 3000)
  t.equal(await deaths(), 0, 'an answer within the margin (two intervals) may be the unload racing the exit')
  sys(5000, 'a:1b')
  t.equal(await deaths(), 1, 'a:1b still listed 5 s after its runner went: it died while listed')
  sys(10_000, 'a:1b')
  t.equal(await deaths(), 1, 'one death counts once')
  // c:1b's runner restarts: a new runner of the model is alive when the listing comes.
  m.processes([server, runner(13, 'c:1b')], 11_000)
  m.processes([server], 12_000)
  m.processes([server, runner(14, 'c:1b')], 13_000)
  sys(15_000, 'c:1b')
  t.equal(await deaths(), 1, "the model is served by its new runner: no death the user lost a model to")
  // A server that does not answer says nothing; the next answer decides.
  m.processes([server, runner(14, 'c:1b')], 16_000)
  m.processes([server], 17_000)
  m.system(block(meminfo).sample, false, 20_000)
  sys(25_000)
  t.equal(await deaths(), 1, 'the next answer no longer lists it: an unload')
})

t.test('several servers: each has its own up and its own deaths, by address', async t => {
  const m = new Metrics(1000)
  const a = '127.0.0.1:11434'
  const b = '127.0.0.1:11435'
  const two = (listA: string[] | undefined, listB: string[]) =>
    block(`${meminfo}${listA ? `memtrace server {"pid":10,"address":"${a}","via":"environ"}\n${listing(...listA)}\n` : ''}memtrace server {"pid":20,"address":"${b}","via":"environ"}\n${listing(...listB)}\n`).sample
  m.processes([server, { ...server, pid: 20 }, runner(11, 'x:1b', 10), runner(21, 'x:1b', 20)], 0)
  m.servers([{ pid: 10, address: a }, { pid: 20, address: b }])
  m.system(two(['x:1b'], ['x:1b']), true, 0)
  m.processes([server, { ...server, pid: 20 }, runner(11, 'x:1b', 10)], 1000)
  m.system(two(undefined, ['x:1b']), true, 5000)
  const text = await m.registry.metrics()
  t.equal(value(text, `memtrace_ollama_up{server="${a}"}`), 0, 'the first server gave no listing')
  t.equal(value(text, `memtrace_ollama_up{server="${b}"}`), 1)
  t.equal(value(text, `memtrace_runner_deaths_while_listed_total{server="${b}"}`), 1, "the second server's runner died while it listed x:1b, though the first server's x:1b runner lives")
  t.equal(value(text, `memtrace_runner_deaths_while_listed_total{server="${a}"}`), 0)
})

t.test('evictions in the server log count from 0 once a log is followed', async t => {
  const m = new Metrics()
  m.system(block(meminfo).sample, true, 0, [], true)
  t.equal(value(await m.registry.metrics(), 'memtrace_model_evictions_total'), 0)
  m.evictions()
  m.evictions()
  m.system(block(meminfo).sample, true, 5000, [], true)
  t.equal(value(await m.registry.metrics(), 'memtrace_model_evictions_total'), 2)
})

t.test('several servers: overlaps and orphans each of its own server, so that one server does not fire the other\'s rules', async t => {
  const m = new Metrics(1000)
  const a = '127.0.0.1:11434'
  const b = '127.0.0.1:11435'
  m.servers([{ pid: 10, address: a }, { pid: 20, address: b }])
  const procs = [server, { ...server, pid: 20 }, runner(11, 'x:1b', 10), runner(21, 'y:1b', 20), runner(22, 'z:1b', 20)]
  for (const at of [0, 1000, 2000, 3000]) m.processes(procs, at)
  // The first server lists nothing; the second lists its own two models and, by chance, the first's too.
  const listings = block(`${meminfo}memtrace server {"pid":10,"address":"${a}","via":"environ"}\n${listing()}\nmemtrace server {"pid":20,"address":"${b}","via":"environ"}\n${listing('x:1b', 'y:1b', 'z:1b')}\n`).sample
  m.system(listings, true, 3000)
  m.system(listings, true, 4000)
  const text = await m.registry.metrics()
  t.equal(value(text, `memtrace_runner_overlap_seconds_total{server="${b}"}`), 3, 'two runners of the second server, 3 s')
  t.equal(value(text, `memtrace_runner_overlap_seconds_total{server="${a}"}`), 0, "the first server's one runner beside them is no overlap of its own")
  t.equal(value(text, `memtrace_orphan_runners{server="${a}"}`), 1, "x:1b is an orphan of the first server, though the second lists a model of that name")
  t.equal(value(text, `memtrace_orphan_runners{server="${b}"}`), 0)
  t.equal(value(text, 'memtrace_runner_overlap_seconds_total'), undefined, 'no host-wide series beside the per-server ones')
  // The daemon's first sample comes before the servers are told apart: its host-wide series goes once they are.
  const first = new Metrics(1000)
  first.processes(procs, 0)
  t.equal(value(await first.registry.metrics(), 'memtrace_runner_overlap_seconds_total'), 0)
  first.servers([{ pid: 10, address: a }, { pid: 20, address: b }])
  first.processes(procs, 1000)
  const later = await first.registry.metrics()
  t.equal(value(later, 'memtrace_runner_overlap_seconds_total'), undefined)
  t.equal(value(later, `memtrace_runner_overlap_seconds_total{server="${b}"}`), 0, "the second server's runners start their overlap at the first sample that tells them apart")
})
