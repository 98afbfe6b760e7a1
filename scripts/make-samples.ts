/**
 * Writes the synthesised sample traces in samples/ (see samples/README.md for
 * what each one is and how it was made). Deterministic: `make samples`
 * rewrites them byte for byte.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as f from './sample-format.js'
import { windowsSwitch } from './make-windows-sample.js'

const GIB = f.GIB
const MIB = 1024 ** 2

interface Proc {
  pid: number
  ppid: number
  comm: string
  command: string
  start: number
  end: number
  /** RSS in bytes at second `t` of the run. */
  rss: (t: number) => number
  vszBytes: number
}

interface Model {
  name: string
  digest: string
  blob: string
  family: string
  parameterSize: string
  quant: string
  /** What /api/ps reports. */
  size: number
}

const hex = (seed: number) => {
  const r = f.rng(seed)
  let s = ''
  while (s.length < 64) s += Math.floor(r() * 16).toString(16)
  return s
}

function model(name: string, seed: number, size: number, family: string, parameterSize: string, quant = 'Q4_K_M'): Model {
  return { name, digest: hex(seed), blob: `sha256-${hex(seed + 1000)}`, family, parameterSize, quant, size }
}

/** Linear ramp from `a` at t0 to `b` at t1, then flat; with a little jitter. */
function ramp(t0: number, t1: number, a: number, b: number, jitter: number, seed: number) {
  const r = f.rng(seed)
  const noise = Array.from({ length: 4000 }, () => (r() - 0.5) * jitter)
  return (t: number) => {
    const k = t <= t0 ? 0 : t >= t1 ? 1 : (t - t0) / (t1 - t0)
    return Math.max(0, a + (b - a) * k + (noise[t % noise.length] as number))
  }
}

function writeProcTrace(path: string, t0: number, seconds: number, procs: Proc[], placeholderEvery = 0): void {
  let out = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  for (let t = 0; t < seconds; t++) {
    const ms = t0 + t * 1000
    for (const p of procs) {
      if (t < p.start || t > p.end) continue
      out += f.procRow(ms, p.pid, p.ppid, p.comm, p.rss(t) / 1024, p.vszBytes / 1024, p.command)
    }
    if (placeholderEvery > 0 && t % placeholderEvery === 7) out += f.procRow(ms, 90000 + t, 1, '(ollama)', 1184, 34567890, '(ollama)')
  }
  writeFileSync(path, out)
}

function dir(name: string): string {
  const d = join('samples', name)
  mkdirSync(d, { recursive: true })
  return d
}

/** State of a unified-memory Mac: compressor and swap grow under pressure and come back slowly. */
function macMemory(totalBytes: number) {
  let compressor = 0.6 * GIB
  let swapUsed = 0
  let pageouts = 41234
  let swapouts = 1200
  let swapins = 900
  let pageins = 2345678
  return (runnerBytes: number, otherBytes: number): f.MacMem => {
    const wired = 2.9 * GIB + 0.92 * runnerBytes
    const demand = wired + otherBytes + 0.08 * runnerBytes
    const room = totalBytes - demand + swapUsed
    const squeeze = Math.max(0, 0.16 * totalBytes - room)
    compressor = Math.max(0.4 * GIB, compressor + 0.25 * (0.55 * squeeze - compressor + 0.4 * GIB) * (squeeze > 0 ? 1 : 0.1))
    if (room < 0.08 * totalBytes) {
      const step = Math.min(0.25 * GIB, 0.08 * totalBytes - room)
      swapUsed += step
      swapouts += Math.round(step / 16384)
      pageouts += Math.round(step / 16384 / 3)
    }
    if (room > 0.3 * totalBytes && swapUsed > 0) {
      const back = Math.min(swapUsed, 0.02 * GIB)
      swapUsed -= back
      swapins += Math.round(back / 16384)
    }
    pageins += 211
    const free = Math.max(0.12 * GIB, room - compressor + 0.3 * squeeze)
    const inactive = Math.max(0.5 * GIB, 0.3 * otherBytes)
    const freePct = Math.max(2, Math.min(95, (100 * (free + 0.6 * inactive)) / totalBytes))
    return {
      totalBytes,
      pageSize: 16384,
      freeBytes: free,
      activeBytes: otherBytes * 0.6 + 0.08 * runnerBytes,
      inactiveBytes: inactive,
      speculativeBytes: 0.15 * GIB,
      wiredBytes: wired,
      compressorBytes: compressor,
      storedInCompressorBytes: compressor * 2.7,
      pageins,
      pageouts,
      swapins,
      swapouts,
      swapTotalBytes: Math.max(2 * GIB, Math.ceil((swapUsed + 0.5 * GIB) / GIB) * GIB),
      swapUsedBytes: swapUsed,
      freePct,
    }
  }
}

function loaded(m: Model, ms: number, context: number, keepAliveS: number, vramShare = 1): f.Loaded {
  const exp = new Date(ms + keepAliveS * 1000).toISOString().replace('Z', '-08:00').replace(/^(.{19})\.(\d{3})/, '$1.$2345')
  return {
    name: m.name,
    digest: m.digest,
    size: m.size,
    sizeVram: Math.round(m.size * vramShare),
    context,
    family: m.family,
    parameterSize: m.parameterSize,
    quant: m.quant,
    expiresAt: exp,
    until: keepAliveS < 0 ? 'Forever' : `${Math.floor(keepAliveS / 60)} minutes from now`,
  }
}

/** `comm` as Apple's ps prints it when another column follows: the executable's path, cut to 16 bytes. */
const macComm = (path: string) => path.slice(0, 16)

/** (a) 32 GB Apple Silicon Mac switching models; written in the daemon's format. */
function macSwitch(): void {
  const d = dir('mac-model-switch')
  const t0 = Date.UTC(2026, 1, 25, 14, 3, 0)
  const seconds = 15 * 60
  const res = '/Applications/Ollama.app/Contents/Resources'
  const blobs = '/Users/dana/.ollama/models/blobs'
  const a = model('qwen2.5-coder:7b', 7, 5_437_461_504, 'qwen2', '7.6B')
  const b = model('qwen3-coder:30b', 30, 19_362_478_080, 'qwen3moe', '30.5B')
  const serve: Proc = { pid: 812, ppid: 1, comm: macComm(`${res}/ollama`), command: `${res}/ollama serve`, start: 0, end: seconds, rss: ramp(0, 60, 48 * MIB, 71 * MIB, 2 * MIB, 1), vszBytes: 412 * GIB }
  const gui: Proc = { pid: 790, ppid: 1, comm: macComm('/Applications/Ollama.app/Contents/MacOS/Ollama'), command: '/Applications/Ollama.app/Contents/MacOS/Ollama', start: 0, end: seconds, rss: ramp(0, 1, 118 * MIB, 118 * MIB, 3 * MIB, 2), vszBytes: 420 * GIB }
  const disc: Proc = { pid: 815, ppid: 812, comm: macComm(`${res}/llama-server`), command: `${res}/llama-server --port 60123 --host 127.0.0.1 --no-webui --offline --verbose`, start: 1, end: 2, rss: ramp(1, 2, 21 * MIB, 34 * MIB, 0, 3), vszBytes: 401 * GIB }
  const argv = (m: Model, port: number) => `${res}/llama-server --model ${blobs}/${m.blob} --port ${port} --host 127.0.0.1 --no-webui --offline -c 8192 -np 1 --log-verbosity 4 --no-log-prefix --no-log-timestamps --flash-attn auto`
  const ra: Proc = { pid: 4412, ppid: 812, comm: macComm(`${res}/llama-server`), command: argv(a, 51234), start: 60, end: 470, rss: ramp(60, 75, 40 * MIB, 5.6 * GIB, 40 * MIB, 4), vszBytes: 430 * GIB }
  const rb: Proc = { pid: 5120, ppid: 812, comm: macComm(`${res}/llama-server`), command: argv(b, 52811), start: 405, end: seconds, rss: ramp(405, 450, 60 * MIB, 19.1 * GIB, 90 * MIB, 5), vszBytes: 455 * GIB }
  const procs = [gui, serve, disc, ra, rb]
  writeProcTrace(join(d, 'ollama-process-memtrace-20260225-140300.tsv'), t0, seconds, procs, 97)
  const mac = macMemory(32 * GIB)
  let log = ''
  for (let t = 0; t < seconds; t += 5) {
    const ms = t0 + t * 1000
    const runners = [ra, rb].filter(p => t >= p.start && t <= p.end)
    const rbytes = runners.reduce((s, p) => s + p.rss(t), 0)
    const m = mac(rbytes, 10.5 * GIB)
    const models = [
      ...(t >= rb.start ? [loaded(b, ms, 8192, 300)] : []),
      ...(t >= ra.start && t <= ra.end ? [loaded(a, ms, 8192, Math.max(1, 300 - Math.max(0, t - 300)))] : []),
    ]
    log += `===== ${f.iso(ms)} =====\n`
    if (t === 0) log += `memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n`
    if (t === 60) log += `memtrace marker {"ts":"${f.iso(ms - 2000)}","text":"ollama run qwen2.5-coder:7b"}\n`
    if (t === 400) log += `memtrace marker {"ts":"${f.iso(ms + 3000)}","text":"switch to qwen3-coder:30b"}\n`
    if (t === 60) log += `memtrace runner {"pid":4412,"model":"qwen2.5-coder:7b","blob":"${a.blob}"}\n`
    if (t === 405) log += `memtrace runner {"pid":5120,"model":"qwen3-coder:30b","blob":"${b.blob}"}\n`
    log += f.vmStat(m) + f.memoryPressure(m) + f.swapUsage(m) + f.ollamaPs(models) + f.apiPs(models, true) + '\n'
  }
  writeFileSync(join(d, 'system-memtrace-20260225-140300.log'), log)
}

/** (b) Seed 000's NUM_PARALLEL sweep: one restart per step, ~1 GB per slot; seed's own format. */
function parallelSweep(): void {
  const d = dir('num-parallel-sweep')
  const t0 = Date.UTC(2026, 1, 25, 13, 10, 0)
  const rssMb = [5683, 6632, 7588, 8540, 9495, 10448, 11403, 12679, 13632, 14587, 15536, 16386, 16471, 16522, 16840]
  const pageoutsAdded = [0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 42, 131, 22, 2, 9]
  const step = 60
  const seconds = rssMb.length * step
  const m = model('qwen2.5-coder:7b', 7, 5_437_461_504, 'qwen2', '7.6B')
  const bin = '/opt/homebrew/bin/ollama'
  const blobs = '/Users/rocky/.ollama/models/blobs'
  const procs: Proc[] = []
  rssMb.forEach((mb, i) => {
    const s0 = i * step
    const servePid = 20100 + i * 37
    procs.push({ pid: servePid, ppid: 1, comm: macComm(bin), command: `${bin} serve`, start: s0, end: s0 + step - 3, rss: ramp(s0, s0 + 5, 40 * MIB, 62 * MIB, MIB, 10 + i), vszBytes: 410 * GIB })
    procs.push({ pid: servePid + 5, ppid: servePid, comm: macComm(bin), command: `${bin} runner --ollama-engine --port ${50000 + i}`, start: s0 + 1, end: s0 + 2, rss: ramp(0, 1, 30 * MIB, 30 * MIB, 0, 40 + i), vszBytes: 401 * GIB })
    procs.push({ pid: servePid + 9, ppid: servePid, comm: macComm(bin), command: `${bin} runner --ollama-engine --model ${blobs}/${m.blob} --port ${51000 + i}`, start: s0 + 4, end: s0 + step - 4, rss: ramp(s0 + 4, s0 + 12, 50 * MIB, mb * 1e6, 25 * MIB, 70 + i), vszBytes: 440 * GIB })
  })
  writeProcTrace(join(d, 'ollama-process-memtrace-20260225-131000.tsv'), t0, seconds, procs)
  const mac = macMemory(32 * GIB)
  let log = ''
  let extraPageouts = 0
  for (let t = 0; t < seconds; t += 5) {
    const ms = t0 + t * 1000
    const i = Math.floor(t / step)
    const runner = procs.find(p => p.command.includes('--model') && t >= p.start && t <= p.end)
    const mem = mac(runner ? runner.rss(t) : 0, 8 * GIB)
    if (t % step === 30) extraPageouts += pageoutsAdded[i] ?? 0
    mem.pageouts += extraPageouts
    const ctx = 32768
    const models = runner ? [loaded({ ...m, size: Math.round(m.size + (i + 1) * 0.95e9) }, ms, ctx, 300)] : []
    log += `===== ${f.iso(ms)} =====\n` + f.vmStat(mem) + f.memoryPressure(mem) + f.swapUsage(mem) + f.ollamaPs(models) + f.apiPs(models, true) + '\n'
  }
  writeFileSync(join(d, 'system-memtrace-20260225-131000.log'), log)
}

/** (c) Linux + NVIDIA GPU, Ollama in a container with a memory limit (seed 003); daemon format. */
function linuxContainer(): void {
  const d = dir('linux-nvidia-container')
  const t0 = Date.UTC(2026, 9, 10, 9, 0, 0)
  const seconds = 12 * 60
  const total = 64 * GIB
  const limit = 48 * GIB
  const vram = 24 * GIB
  const lib = '/usr/lib/ollama'
  const blobs = '/root/.ollama/models/blobs'
  const phi = model('phi4:14b', 14, 9_100_000_000, 'phi3', '14.7B')
  const qwen = model('qwen2.5-coder:32b', 32, 21_500_000_000, 'qwen2', '32.8B')
  const llama = model('llama3.3:70b', 70, 45_200_000_000, 'llama', '70.6B')
  const argv = (m: Model, port: number) => `${lib}/llama-server --model ${blobs}/${m.blob} --port ${port} --host 127.0.0.1 --no-webui --offline -c 16384 -np 2 --log-verbosity 4 --no-log-prefix --no-log-timestamps --flash-attn auto`
  const serve: Proc = { pid: 2301, ppid: 2280, comm: 'ollama', command: '/bin/ollama serve', start: 0, end: seconds, rss: ramp(0, 30, 52 * MIB, 88 * MIB, 2 * MIB, 20), vszBytes: 6 * GIB }
  const rp: Proc = { pid: 2412, ppid: 2301, comm: 'llama-server', command: argv(phi, 40111), start: 30, end: 200, rss: ramp(30, 40, 80 * MIB, 1.9 * GIB, 30 * MIB, 21), vszBytes: 24 * GIB }
  const rq: Proc = { pid: 2519, ppid: 2301, comm: 'llama-server', command: argv(qwen, 40371), start: 215, end: 430, rss: ramp(215, 240, 80 * MIB, 6.2 * GIB, 40 * MIB, 22), vszBytes: 38 * GIB }
  const rl: Proc = { pid: 2688, ppid: 2301, comm: 'llama-server', command: argv(llama, 40629), start: 445, end: 540, rss: ramp(445, 540, 80 * MIB, 30.5 * GIB, 60 * MIB, 23), vszBytes: 61 * GIB }
  const procs = [serve, rp, rq, rl]
  writeProcTrace(join(d, 'ollama-process-memtrace-20261010-090000.tsv'), t0, seconds, procs)
  let log = ''
  let pswpout = 1200
  let someTotal = 12_000_000
  let fullTotal = 4_000_000
  for (let t = 0; t < seconds; t += 5) {
    const ms = t0 + t * 1000
    const alive = [rp, rq, rl].filter(p => t >= p.start && t <= p.end)
    const rss = alive.reduce((s, p) => s + p.rss(t), 0) + serve.rss(t)
    const gpu = 0.6 * GIB + (t >= rp.start && t <= rp.end ? 8.4 * GIB : 0) + (t >= rq.start && t <= rq.end ? 22.6 * GIB : 0) + (t >= rl.start && t <= rl.end ? 22.9 * GIB : 0)
    const cache = Math.min(14 * GIB, 3 * GIB + rss * 0.35)
    // The container is charged the pages of the weights llama-server reads through its mmap too: as the
    // 70b loads, they take the container to its limit, where the kernel kills it.
    const weights = t >= rl.start && t <= rl.end ? ((t - rl.start) / (rl.end - rl.start)) * 9.3 * GIB : 0
    const usage = rss + cache * 0.6 + weights
    const anon = rss + 5 * GIB
    const available = Math.max(0.4 * GIB, total - anon - 2 * GIB)
    const pressure = usage > 0.9 * limit ? Math.min(60, ((usage - 0.9 * limit) / GIB) * 9) : 0
    someTotal += Math.round(pressure * 50_000)
    fullTotal += Math.round(pressure * 20_000)
    if (pressure > 0) pswpout += Math.round(pressure * 300)
    const models = [
      ...(t >= rl.start && t <= rl.end ? [loaded(llama, ms, 16384, 300, 0.49)] : []),
      ...(t >= rq.start && t <= rq.end ? [loaded(qwen, ms, 16384, 300, 0.93)] : []),
      ...(t >= rp.start && t <= rp.end ? [loaded(phi, ms, 16384, 300)] : []),
    ]
    log += `===== ${f.iso(ms)} =====\n`
    if (t === 0) log += `memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n`
    for (const [p, mm] of [[rp, phi], [rq, qwen], [rl, llama]] as const) {
      if (t === Math.ceil(p.start / 5) * 5) log += `memtrace runner {"pid":${p.pid},"model":"${mm.name}","blob":"${mm.blob}"}\n`
    }
    if (t === 200) log += `memtrace marker {"ts":"${f.iso(ms)}","text":"keep_alive 0: unload phi4"}\n`
    if (t === 540) log += `memtrace source-error {"source":"api-ps","message":"Error: 500 Internal Server Error: llama-server process has terminated: signal: killed"}\n`
    // The next system sample sees the container's OOM-kill count risen, and the runner gone.
    if (t === 545) log += `memtrace oom-kill {"ts":"${f.iso(ms)}","pid":${rl.pid},"text":"llama-server","bytes":${Math.round(rl.rss(rl.end) / 1024) * 1024},"model":"llama3.3:70b","source":"cgroup","message":"the server's cgroup memory.events oom_kill rose by 1 while this process vanished"}\n`
    log += f.meminfo({ total, free: Math.max(0.3 * GIB, available - cache), available, cached: cache, swapTotal: 8 * GIB, swapFree: 8 * GIB - (pswpout - 1200) * 4096 - 64 * MIB, anon })
    log += f.psi([pressure, pressure * 0.6, pressure * 0.2], [pressure * 0.4, pressure * 0.25, pressure * 0.1], [someTotal, fullTotal])
    log += `pswpin 310\npswpout ${pswpout}\noom_kill ${t > rl.end ? 1 : 0}\n`
    log += 'cgroup: /system.slice/docker-5f2c9a81be0d.scope\n'
    log += `/sys/fs/cgroup/system.slice/docker-5f2c9a81be0d.scope/memory.current:${Math.round(Math.min(usage, limit))}\n`
    log += `/sys/fs/cgroup/system.slice/docker-5f2c9a81be0d.scope/memory.max:${limit}\n`
    log += f.psi([pressure * 1.4, pressure, pressure * 0.3], [pressure * 0.7, pressure * 0.4, pressure * 0.15], [someTotal * 2, fullTotal * 2], '/sys/fs/cgroup/system.slice/docker-5f2c9a81be0d.scope/memory.pressure:')
    log += f.nvidiaSmi([{ name: 'NVIDIA GeForce RTX 4090', used: gpu, total: vram }])
    log += f.ollamaPs(models) + f.apiPs(models, false) + '\n'
  }
  writeFileSync(join(d, 'system-memtrace-20261010-090000.log'), log)
  writeFileSync(join(d, 'ollama-server-memtrace-20261010-090000.log'), containerServerLog(t0, [phi, qwen, llama], [rp, rq, rl]))
}

/**
 * The daemon's third file for the container sample: the lines of Ollama
 * 0.30's log it keeps (its own, with `time=`; llama.cpp's, with the daemon's
 * arrival time before them), a start line cut to what memtrace reads. Three
 * loads: phi4 alone, qwen2.5-coder:32b partly offloaded, llama3.3:70b after
 * evicting qwen (predicted 49.6 GiB against 27.4 GiB free), killed at the
 * container's limit. Sizes as Ollama (one decimal) and llama.cpp (two) print them.
 */
function containerServerLog(t0: number, models: Model[], procs: Proc[]): string {
  const at = (s: number) => new Date(t0 + s * 1000).toISOString()
  const ollama = (s: number, level: string, source: string, msg: string, rest = '') => `time=${at(s)} level=${level} source=${source} msg=${/[\s"=]/.test(msg) ? JSON.stringify(msg) : msg}${rest ? ` ${rest}` : ''}\n`
  const llama = (s: number, line: string) => `${at(s)} ${line}\n`
  let out = ollama(-3600, 'INFO', 'routes.go:1554', 'server config', 'env="map[CUDA_VISIBLE_DEVICES: OLLAMA_CONTEXT_LENGTH:16384 OLLAMA_FLASH_ATTENTION:false OLLAMA_KEEP_ALIVE:5m0s OLLAMA_KV_CACHE_TYPE: OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_NUM_PARALLEL:2]"')
  out += ollama(-3599.9, 'INFO', 'routes.go:1607', 'Listening on [::]:11434 (version 0.30.2)')
  const buffers: [string, string][][] = [
    [['CUDA0 model buffer', '8185.43'], ['CPU_Mapped model buffer', '410.98'], ['CUDA0 KV buffer', '3200.00'], ['CUDA0 compute buffer', '1300.01'], ['CUDA_Host compute buffer', '74.01']],
    [['CUDA0 model buffer', '15642.87'], ['CPU_Mapped model buffer', '3129.70'], ['CUDA0 KV buffer', '3328.00'], ['CPU KV buffer', '768.00'], ['CUDA0 compute buffer', '1360.00'], ['CUDA_Host compute buffer', '42.01']],
    [['CUDA0 model buffer', '18432.00'], ['CPU_Mapped model buffer', '21996.56'], ['CUDA0 KV buffer', '2304.00'], ['CPU KV buffer', '2816.00'], ['CUDA0 compute buffer', '1104.00'], ['CUDA_Host compute buffer', '80.02']],
  ]
  const layers = ['41/41', '58/65', '37/81']
  const free = ['23652', '23652', '23420']
  models.forEach((m, i) => {
    const p = procs[i] as Proc
    const s0 = p.start - 1.4
    if (i === 2) {
      out += ollama(s0 - 14.2, 'INFO', 'sched.go:557', 'llama-server model predicted to exceed available memory, evicting', 'predicted="49.6 GiB" predicted_num_ctx=16384 num_batch=512 available="27.4 GiB" gpu_free="0.9 GiB" system_free="27.4 GiB" system_limited=true')
    }
    out += ollama(s0, 'INFO', 'llama_server.go:433', 'starting llama-server', `cmd="--model ${m.blob} --port ${/--port (\d+)/.exec(p.command)?.[1]} -c 16384 -np 2"`)
    out += ollama(s0, 'INFO', 'sched.go:623', 'system memory', 'total="62.6 GiB" free="51.2 GiB" free_swap="8.0 GiB"')
    out += llama(s0 + 0.3, `llama_model_load_from_file_impl: using device CUDA0 (NVIDIA GeForce RTX 4090) (0000:01:00.0) - ${free[i]} MiB free`)
    out += llama(s0 + 0.9, `load_tensors: offloaded ${layers[i]} layers to GPU`)
    for (const [name, mib] of buffers[i] as [string, string][]) {
      const [dev, ...what] = name.split(' ')
      const fn = what[0] === 'KV' ? 'llama_kv_cache' : what[0] === 'compute' ? 'llama_context' : 'load_tensors'
      out += llama(s0 + 1.2, `${fn}: ${(dev as string).padStart(12)} ${what.join(' ')} size = ${mib.padStart(8)} MiB`)
    }
    out += ollama(s0 + 3.5, 'INFO', 'llama_server.go:1315', `llama-server started in ${(3.5).toFixed(2)} seconds`)
  })
  const killed = procs[2] as Proc
  out += ollama(killed.end + 0.8, 'ERROR', 'llama_server.go:976', 'llama-server terminated', 'error="signal: killed" exit=unknown')
  return out
}

macSwitch()
parallelSweep()
linuxContainer()
windowsSwitch()
