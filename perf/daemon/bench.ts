/**
 * `make bench` (daemon part): the daemon against the Linux rendition of the
 * seed's two shell loops, at the same rates, in one run on a host with about
 * 500 processes. Reports CPU time, peak and late RSS, tick lateness and missed
 * ticks; then the same daemon following a server log being written, against
 * itself following none; then with both cores busy, then scraped; then the
 * daemon's Windows path on a simulated Windows host against the same budget.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { Agent, createServer, get } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { simulatedWindows } from './windows.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const BIN = join(ROOT, 'dist', 'bin', 'memtrace.js')
const TICKS_PER_S = 100 // USER_HZ on Linux
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

function stat(pid: number): { cpuS: number; childCpuS: number; rssKb: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0)
  return { cpuS: (Number(f[11]) + Number(f[12])) / TICKS_PER_S, childCpuS: (Number(f[13]) + Number(f[14])) / TICKS_PER_S, rssKb }
}

/** CPU time of every thread of a process, in seconds, to the nanosecond (the scheduler's own count, not clock ticks). */
function cpuNs(pid: number): number {
  let ns = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'latin1').split(' ')[0])
    } catch {
      /* a thread that ended */
    }
  }
  return ns / 1e9
}

function loops(dir: string, url: string): ChildProcess {
  // The seed's process loop as written, and its system loop with the Linux
  // sources in place of vm_stat, memory_pressure and sysctl.
  const script = `
cd '${dir}'
( OUT=proc.tsv; echo -e "ts\\tpid\\tppid\\tcomm\\trss_kb\\tvsz_kb\\tcommand" > "$OUT"
  while true; do ts=$(date -u +"%Y-%m-%dT%H:%M:%SZ")
  ps -axo pid=,ppid=,comm=,rss=,vsz=,command= | awk -v ts="$ts" '/[o]llama|[m]lx|[r]unner/ { pid=$1; ppid=$2; comm=$3; rss=$4; vsz=$5; $1=$2=$3=$4=$5=""; sub(/^ +/, "", $0); print ts "\\t" pid "\\t" ppid "\\t" comm "\\t" rss "\\t" vsz "\\t" $0 }' >> "$OUT"
  sleep 1; done ) &
( OUT=system.log
  while true; do { echo "===== $(date -u +"%Y-%m-%dT%H:%M:%SZ") ====="; cat /proc/meminfo; cat /proc/pressure/memory; grep -E '^(pswpin|pswpout) ' /proc/vmstat; curl -s ${url}/api/ps | jq .; echo; } >> "$OUT"
  sleep 5; done ) &
wait`
  return track(spawn('bash', ['-c', script], { stdio: 'ignore', detached: true }), true)
}

/**
 * Every process the bench starts, ended with it however it ends (a failure,
 * a kill): its loops run forever, and six of its sleeping processes are
 * named as runners, which any memtrace started on this host after it would
 * trace. Those started as a process group of their own are ended as one.
 */
const started = new Set<{ child: ChildProcess; group: boolean }>()

function track(child: ChildProcess, group = false): ChildProcess {
  const entry = { child, group }
  started.add(entry)
  child.once('exit', () => started.delete(entry))
  return child
}

function endAll(): void {
  for (const { child, group } of started) {
    try {
      if (group) process.kill(-(child.pid as number), 'SIGKILL')
      else child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  started.clear()
}

/** CPU of a process tree: every live member's own time plus what it reaped. */
function treeCpu(root: number): number {
  let total = 0
  const children = new Map<number, number[]>()
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue
    try {
      const s = readFileSync(`/proc/${n}/stat`, 'latin1')
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(n)])
    } catch {
      /* gone */
    }
  }
  const stack = [root]
  while (stack.length) {
    const pid = stack.pop() as number
    try {
      const st = stat(pid)
      total += st.cpuS + st.childCpuS
    } catch {
      /* gone */
    }
    stack.push(...(children.get(pid) ?? []))
  }
  return total
}

async function watchDaemon(dir: string, url: string, seconds: number, label: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const d = track(spawn(process.execPath, [BIN, 'start', '--foreground', '--dir', dir, '--ollama-url', url, ...extra], { stdio: 'ignore', env: { ...process.env, PATH: '/usr/bin:/bin', ...env } }))
  const rss: number[] = []
  await sleep(5000)
  const warm = stat(d.pid as number)
  const warmNs = cpuNs(d.pid as number)
  rss.push(warm.rssKb)
  for (let s = 5; s < seconds; s += 5) {
    await sleep(5000)
    rss.push(stat(d.pid as number).rssKb)
  }
  const cpu = stat(d.pid as number)
  const steadyNs = cpuNs(d.pid as number) - warmNs
  d.kill('SIGTERM')
  await new Promise(r => d.once('exit', r))
  // The status the daemon wrote at its stop: it counts every line read up to the end (the one written at each system sample lags by up to 5 s).
  const status = JSON.parse(readFileSync(join(dir, 'memtrace.status.json'), 'utf8')) as {
    processSamples: number
    systemSamples: number
    missedTicks: { process: number; system: number }
    lateness: { p50Ms: number; p99Ms: number; maxMs: number }
    serverLog?: { from: string; lines: number }
  }
  const afterWarmup = rss.slice(1)
  return {
    label,
    cpuS: cpu.cpuS + cpu.childCpuS,
    steadyCpuS: cpu.cpuS + cpu.childCpuS - (warm.cpuS + warm.childCpuS),
    /** The same, from the scheduler's nanosecond count of every thread. */
    steadyCpuPreciseS: steadyNs,
    steadySeconds: seconds - 5,
    peakRssMb: Math.max(...rss) / 1024,
    rssSpreadMb: (Math.max(...afterWarmup) - Math.min(...afterWarmup)) / 1024,
    status,
  }
}

/** A model load as Ollama 0.30's debug log has it: eleven lines, memory and decisions, Ollama's own (time=) and llama.cpp's (no time). */
function loadLines(at: string, i: number): string[] {
  const t = `time=${at} level=INFO`
  return [
    `${t} source=sched.go:517 msg="system memory" total="31.3 GiB" free="${(18 + (i % 30) / 10).toFixed(1)} GiB" free_swap="0 B"`,
    `${t} source=sched.go:560 msg="llama-server model fits alongside existing models" predicted="6.3 GiB" predicted_num_ctx=4096 num_batch=512 available="20.0 GiB" gpu_free="14.8 GiB" system_free="20.0 GiB" system_limited=false`,
    `${t} source=server.go:402 msg="starting llama-server" cmd="/usr/lib/ollama/llama-server --model /models/blobs/sha256-${'ab'.repeat(32)} --port ${40000 + (i % 1000)} -c 4096 -b 512 -np 1"`,
    'llama_model_load_from_file_impl: using device CUDA0 (NVIDIA GeForce RTX 4090) (0000:01:00.0) - 23008 MiB free',
    'load_tensors: offloaded 29/29 layers to GPU',
    'load_tensors:        CUDA0 model buffer size =  4168.09 MiB',
    'load_tensors:   CPU_Mapped model buffer size =   292.36 MiB',
    'llama_kv_cache:      CUDA0 KV buffer size =  1920.00 MiB',
    'llama_context:      CUDA0 compute buffer size =   378.04 MiB',
    'llama_context:  CUDA_Host compute buffer size =   268.05 MiB',
    `${t} source=server.go:640 msg="llama-server started in 3.79 seconds"`,
  ]
}

/** What a debug log prints around each request: GIN's access line, the scheduler's and the runner's debug lines. */
function requestLine(at: string, i: number): string {
  const d = `time=${at} level=DEBUG`
  switch (i % 6) {
    case 0:
      return `[GIN] ${at.slice(0, 10).replace(/-/g, '/')} - ${at.slice(11, 19)} | 200 |  1.73${i % 10}s |       127.0.0.1 | POST     "/api/chat"`
    case 1:
      return `${d} source=sched.go:632 msg="evaluating already loaded" model=/models/blobs/sha256-${'ab'.repeat(32)}`
    case 2:
      return `${d} source=server.go:1401 msg="completion request" images=0 prompt=${1200 + (i % 500)} format=""`
    case 3:
      return `${d} source=cache.go:104 msg="loading cache slot" id=0 cache=${i % 2000} prompt=${1200 + (i % 500)} used=${i % 1000} remaining=${i % 300}`
    case 4:
      return `${d} source=sched.go:575 msg="context for request finished"`
    default:
      return `${d} source=sched.go:407 msg="runner with non-zero duration has gone idle, adding timer" modelPath=/models/blobs/sha256-${'ab'.repeat(32)} duration=5m0s`
  }
}

/**
 * A server log being written as a busy Ollama with OLLAMA_DEBUG=1 writes it:
 * `perSecond` lines a second in ten bursts, request lines, and every 5 s a
 * model load's eleven memory and decision lines among them (2.2 a second,
 * 132 a minute: all kept). Returns a stop.
 */
function writeServerLog(file: string, perSecond: number): () => void {
  let n = 0
  let burst = 0
  const timer = setInterval(() => {
    const at = new Date().toISOString()
    const lines = burst++ % 50 === 0 ? loadLines(at, n) : []
    while (lines.length < perSecond / 10) lines.push(requestLine(at, n++))
    appendFileSync(file, `${lines.join('\n')}\n`)
  }, 100)
  return () => clearInterval(timer)
}

/**
 * The daemon following a server log written at 200 lines a second, against
 * the same daemon following none, alternately, three times each: the ratio
 * of their CPU after the first 5 s, from the scheduler's own count.
 */
async function followingLog(work: string, url: string, seconds: number) {
  const log = join(work, 'server.log')
  writeFileSync(log, '')
  const without: number[] = []
  const following: number[] = []
  let kept = 0
  let missed = 0
  for (let round = 0; round < 3; round++) {
    const quiet = await watchDaemon(join(work, `quiet-${round}`), url, seconds, 'without a log')
    if (quiet.status.serverLog?.from !== 'none') console.log(`  (this host has a server log of its own: ${quiet.status.serverLog?.from}; the runs without one follow it)`)
    without.push(quiet.steadyCpuPreciseS)
    missed += quiet.status.missedTicks.process + quiet.status.missedTicks.system
    const stop = writeServerLog(log, 200)
    const busy = await watchDaemon(join(work, `log-${round}`), url, seconds, 'following a log', ['--server-log', log])
    stop()
    following.push(busy.steadyCpuPreciseS)
    kept += busy.status.serverLog?.lines ?? 0
    missed += busy.status.missedTicks.process + busy.status.missedTicks.system
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
  return { without, following, kept, missed, ratio: sum(following) / sum(without) }
}

async function main() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 65)
  const api = createServer((_q, r) => r.end('{"models":[{"name":"qwen2.5-coder:7b","model":"qwen2.5-coder:7b","size":5437461504,"digest":"2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8","details":{"parent_model":"","format":"gguf","family":"qwen2","families":["qwen2"],"parameter_size":"7.6B","quantization_level":"Q4_K_M"},"expires_at":"2026-02-25T14:43:07.512345-08:00","size_vram":5437461504,"context_length":8192}]}'))
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`
  const count = readdirSync('/proc').filter(n => /^\d+$/.test(n)).length
  process.once('exit', endAll)
  for (const [signal, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.once(signal, () => {
      endAll()
      process.exit(128 + n)
    })
  }
  for (let i = 0; i < 6; i++) track(spawn('bash', ['-c', `exec -a ollama-runner-${i} sleep 3600`], { stdio: 'ignore' }))
  for (let i = count + 6; i < 500; i++) track(spawn('sleep', ['3600'], { stdio: 'ignore' }))
  await sleep(1000)
  const procs = readdirSync('/proc').filter(n => /^\d+$/.test(n)).length
  const work = mkdtempSync(join(tmpdir(), 'memtrace-bench-'))
  const logSeconds = Math.max(30, Math.round(seconds / 2))
  if (process.argv[2] === 'scraped') {
    // Only the scrapes' part: `node dist/perf/daemon/bench.js scraped`.
    console.log(`host: ${procs} processes`)
    await scrapedPart(work, url, seconds)
  } else if (process.argv[2] === 'server-log') {
    // Only the server log's part: `node dist/perf/daemon/bench.js server-log`.
    console.log(`host: ${procs} processes`)
    await reportFollowing(work, url, logSeconds)
  } else if (process.argv[2] === 'windows') {
    // Only the Windows part: `node dist/perf/daemon/bench.js windows`.
    console.log(`host: ${procs} processes; ${seconds} s each at 1 s / 5 s: the loops alone, then the daemon's Windows path`)
    await windowsPart(work, url, await loopsCpu(work, url, seconds), seconds)
  } else await everything(work, url, procs, seconds, logSeconds)
  endAll()
  api.close()
}

async function reportFollowing(work: string, url: string, logSeconds: number) {
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  const f = await followingLog(work, url, logSeconds)
  const list = (xs: number[]) => xs.map(x => x.toFixed(3)).join(', ')
  console.log(`following a server log at 200 lines/s (3 × ${logSeconds} s each way, alternately): daemon CPU after the first 5 s ${list(f.following)} s, following none ${list(f.without)} s; ratio ${f.ratio.toFixed(3)} (target under 1.10)  ${verdict(f.ratio < 1.1)}; ${f.kept} lines kept; missed ${f.missed} (target 0)  ${verdict(f.missed === 0)}`)
}

async function everything(work: string, url: string, procs: number, seconds: number, logSeconds: number) {
  console.log(`host: ${procs} processes; ${seconds} s each at 1 s / 5 s: the daemon alone, then the loops alone`)
  const daemon = await watchDaemon(join(work, 'idle'), url, seconds, 'idle')
  const { loopCpu, loopWarm } = await loopsCpu(work, url, seconds)
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  const ratio = daemon.cpuS / loopCpu
  const steady = daemon.steadyCpuS / (loopCpu - loopWarm)
  console.log(`loops CPU:    ${loopCpu.toFixed(2)} s (${(loopCpu - loopWarm).toFixed(2)} s after the first 5 s)`)
  console.log(`daemon CPU:   ${daemon.cpuS.toFixed(2)} s = ${(ratio * 100).toFixed(1)}% of the loops' with start-up; ${daemon.steadyCpuS.toFixed(2)} s = ${(steady * 100).toFixed(1)}% after the first 5 s (target ≤ 10%)  ${verdict(steady <= 0.1)}`)
  console.log(`daemon RSS:   peak ${daemon.peakRssMb.toFixed(1)} MB (target ≤ 80)  ${verdict(daemon.peakRssMb <= 80)}; after warm-up it moved ${daemon.rssSpreadMb.toFixed(1)} MB`)
  const s = daemon.status
  console.log(`ticks:        ${s.processSamples} process, ${s.systemSamples} system; lateness p50 ${s.lateness.p50Ms} ms, p99 ${s.lateness.p99Ms} ms (target ≤ 50)  ${verdict(s.lateness.p99Ms <= 50)}; missed ${s.missedTicks.process + s.missedTicks.system} (target 0)  ${verdict(s.missedTicks.process + s.missedTicks.system === 0)}`)
  // Following a server log being written, against following none.
  await reportFollowing(work, url, logSeconds)
  // Both cores busy.
  const burners = [0, 1].map(() => track(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' })))
  const busySeconds = Math.max(30, Math.round(seconds / 2))
  const busy = await watchDaemon(join(work, 'busy'), url, busySeconds, 'busy')
  for (const b of burners) b.kill('SIGKILL')
  const bs = busy.status
  const expected = Math.floor(busySeconds)
  console.log(`both cores busy (${busySeconds} s): ${bs.processSamples} process samples (about ${expected} expected), lateness p99 ${bs.lateness.p99Ms} ms, max ${bs.lateness.maxMs} ms, missed ${bs.missedTicks.process + bs.missedTicks.system}; ticks stay on whole seconds (no drift by construction)`)
  await scrapedPart(work, url, seconds)
  const win = await windowsPart(work, url, { loopCpu, loopWarm }, seconds)
  console.log(`  the Windows path ÷ the Linux path on this host (daemon CPU after the first 5 s): ${(win.steadyCpuPreciseS / daemon.steadyCpuPreciseS).toFixed(2)}`)
}

/** The seed's loops' CPU over `seconds`, and over their first 5 s. */
async function loopsCpu(work: string, url: string, seconds: number): Promise<{ loopCpu: number; loopWarm: number }> {
  const l = loops(work, url)
  await sleep(5000)
  const loopWarm = treeCpu(l.pid as number)
  await sleep((seconds - 5) * 1000)
  const loopCpu = treeCpu(l.pid as number)
  process.kill(-(l.pid as number), 'SIGKILL')
  return { loopCpu, loopWarm }
}

/**
 * The daemon's Windows path (one resident PowerShell answering a listing of
 * 500 processes each second, one resident typeperf) on a simulated host: the
 * daemon's own CPU against the loops' budget. The stand-ins' CPU is not
 * counted: it says nothing of PowerShell's on Windows.
 */
async function windowsPart(work: string, url: string, loops: { loopCpu: number; loopWarm: number }, seconds: number) {
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  const win = await watchDaemon(join(work, 'windows'), url, seconds, 'windows', [], simulatedWindows(join(work, 'windows-host')))
  // The scheduler's nanosecond count of the daemon's threads: its stand-ins, alive to the end, are never in it.
  const steady = win.steadyCpuPreciseS / (loops.loopCpu - loops.loopWarm)
  const s = win.status
  console.log(`simulated Windows (500 processes listed each second; the stand-ins' CPU not counted): daemon CPU ${win.steadyCpuPreciseS.toFixed(3)} s after the first 5 s = ${(steady * 100).toFixed(1)}% of the loops' (target ≤ 10%)  ${verdict(steady <= 0.1)}`)
  console.log(`  RSS peak ${win.peakRssMb.toFixed(1)} MB (target ≤ 80)  ${verdict(win.peakRssMb <= 80)}; ${s.processSamples} process, ${s.systemSamples} system samples; lateness p99 ${s.lateness.p99Ms} ms (target ≤ 50)  ${verdict(s.lateness.p99Ms <= 50)}; missed ${s.missedTicks.process + s.missedTicks.system} (target 0)  ${verdict(s.missedTicks.process + s.missedTicks.system === 0)}`)
  return win
}

/** The daemon with --metrics, scraped 50 at a time every second, against the same daemon not scraped. */
async function scrapedPart(work: string, url: string, seconds: number) {
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')
  // Scraped: 50 concurrent scrapes every second, as a busy fleet's Prometheus servers might.
  const port = await new Promise<number>(ok => {
    const probe = createServer()
    probe.listen(0, '127.0.0.1', () => {
      const p = (probe.address() as { port: number }).port
      probe.close(() => ok(p))
    })
  })
  const scrapeSeconds = Math.max(30, Math.round(seconds / 2))
  // Kept-alive connections, as Prometheus keeps them.
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const scrape = () =>
    new Promise<number>((ok, fail) => {
      const t0 = performance.now()
      get({ host: '127.0.0.1', port, path: '/metrics', agent }, res => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? ok(performance.now() - t0) : fail(new Error(`HTTP ${res.statusCode}`))))
      }).on('error', fail)
    })
  const times: number[] = []
  let failed = 0
  let scraping = true
  const scraper = (async () => {
    // From the first answer on: the start-up is not what is measured.
    for (let i = 0; i < 100 && !(await scrape().then(() => true, () => false)); i++) await sleep(100)
    while (scraping) {
      const round = Date.now()
      await Promise.all(
        Array.from({ length: 50 }, () => scrape().then(ms => void times.push(ms), () => void failed++)),
      )
      await sleep(Math.max(0, 1000 - (Date.now() - round)))
    }
  })()
  const scraped = await watchDaemon(join(work, 'scraped'), url, scrapeSeconds, 'scraped', ['--metrics', `127.0.0.1:${port}`])
  scraping = false
  await scraper
  // The same daemon serving its metrics, scraped by no one: what the scrapes are measured against.
  const unscraped = await watchDaemon(join(work, 'unscraped'), url, scrapeSeconds, 'unscraped', ['--metrics', `127.0.0.1:${port}`])
  agent.destroy()
  times.sort((a, b) => a - b)
  const pct = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN
  const ss = scraped.status
  console.log(`scraped (${scrapeSeconds} s, 50 concurrent scrapes a second): ${times.length} scrapes, ${failed} failed; scrape p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${pct(1).toFixed(1)} ms (target < 50)  ${verdict(pct(1) < 50 && failed === 0)}`)
  // Per second of steady running, against the same daemon unscraped (the first run above).
  const scrapedRatio = scraped.steadyCpuS / unscraped.steadyCpuS
  console.log(`  daemon CPU with --metrics, scraped ÷ not scraped (${scrapeSeconds} s each, after the first 5 s): ${scraped.steadyCpuS.toFixed(2)} s ÷ ${unscraped.steadyCpuS.toFixed(2)} s = ${scrapedRatio.toFixed(2)} (target ≤ 2)  ${verdict(scrapedRatio <= 2)}`)
  console.log(`  ticks while scraped: lateness p99 ${ss.lateness.p99Ms} ms (target ≤ 50)  ${verdict(ss.lateness.p99Ms <= 50)}; missed ${ss.missedTicks.process + ss.missedTicks.system} (target 0)  ${verdict(ss.missedTicks.process + ss.missedTicks.system === 0)}`)
}

await main()
