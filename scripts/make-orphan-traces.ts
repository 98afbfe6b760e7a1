/**
 * Writes the traces of a discrete NVIDIA host that the findings' order and
 * GPU figures are tested on (render/test/traces/, see its README): two runners
 * in sequence on one 16 GiB GPU, the first left alive after its server
 * stopped listing it (an orphan holding its GPU memory), the second squeezed
 * partly onto the CPU. Two renditions: nvidia-smi's process rows present (the
 * daemon's compute-apps query), and absent (a GPU or driver that gives none).
 * Deterministic: `node dist/scripts/make-orphan-traces.js` rewrites them byte for byte.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as f from './sample-format.js'

const GIB = f.GIB
const MIB = 1024 ** 2
const mib = (b: number) => Math.round(b / MIB)

interface Runner {
  pid: number
  model: string
  digest: string
  blob: string
  family: string
  parameterSize: string
  /** What /api/ps reports, and its GPU share. */
  size: number
  vramShare: number
  start: number
  end: number
  /** Seconds after which /api/ps no longer lists it (the orphan). */
  unlistedFrom: number
  rss: number
  /** Its own GPU memory once loaded. */
  gpu: number
}

const UUID = 'GPU-3f1c2a9e-5b7d-4e21-9c8a-1d2e3f4a5b6c'
const GPU_NAME = 'NVIDIA GeForce RTX 4080'
const GPU_TOTAL = 16376 * MIB
const DESKTOP = 412 * MIB

/** A runner's RSS or GPU memory at second t: a ten-second load, then flat with a little jitter. */
function held(r: Runner, bytes: number, t: number, seed: number): number {
  if (t < r.start || t > r.end) return 0
  const k = Math.min(1, (t - r.start) / 10)
  const rnd = f.rng(seed * 7919 + t)()
  return Math.round(80 * MIB + (bytes - 80 * MIB) * k + (k === 1 ? (rnd - 0.5) * 16 * MIB : 0))
}

function write(dir: string, perProcess: boolean): void {
  mkdirSync(dir, { recursive: true })
  const t0 = Date.UTC(2026, 10, 20, 10, 0, 0)
  const seconds = 10 * 60
  const total = 32 * GIB
  const hex = (seed: number) => Array.from({ length: 64 }, (_, i) => ((seed * 31 + i * 17) % 16).toString(16)).join('')
  const phi: Runner = { pid: 4101, model: 'phi4:14b', digest: hex(14), blob: `sha256-${hex(1014)}`, family: 'phi3', parameterSize: '14.7B', size: 9_100_000_000, vramShare: 1, start: 30, end: seconds - 1, unlistedFrom: 150, rss: 1.1 * GIB, gpu: 8.8 * GIB }
  // Loaded while phi4's runner still holds its 8.8 GiB: 6.2 GiB of 16 free, so Ollama puts 62% of it on the GPU.
  const qwen: Runner = { pid: 4388, model: 'qwen2.5-coder:14b', digest: hex(15), blob: `sha256-${hex(1015)}`, family: 'qwen2', parameterSize: '14.8B', size: 9_700_000_000, vramShare: 0.62, start: 270, end: seconds - 1, unlistedFrom: Infinity, rss: 4.4 * GIB, gpu: 5.8 * GIB }
  const runners = [phi, qwen]
  const argv = (r: Runner, port: number) => `/usr/local/bin/ollama runner --ollama-engine --model /usr/share/ollama/.ollama/models/blobs/${r.blob} --port ${port}`
  let proc = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  for (let t = 0; t < seconds; t++) {
    const ms = t0 + t * 1000
    proc += f.procRow(ms, 4012, 1, 'ollama', (64 * MIB) / 1024, (4 * GIB) / 1024, '/usr/local/bin/ollama serve')
    runners.forEach((r, i) => {
      if (t >= r.start && t <= r.end) proc += f.procRow(ms, r.pid, 4012, 'ollama', held(r, r.rss, t, i + 1) / 1024, (40 * GIB) / 1024, argv(r, 40213 + i * 97))
    })
  }
  writeFileSync(join(dir, 'ollama-process-memtrace-20261120-100000.tsv'), proc)

  let sys = ''
  for (let t = 0; t < seconds; t += 5) {
    const ms = t0 + t * 1000
    const rss = runners.reduce((a, r, i) => a + held(r, r.rss, t, i + 1), 64 * MIB)
    const own = runners.map((r, i) => held(r, r.gpu, t, i + 11))
    const used = DESKTOP + own.reduce((a, b) => a + b, 0)
    const cache = 6 * GIB
    const anon = 3 * GIB + rss
    const available = total - anon - 1.5 * GIB
    sys += `===== ${f.iso(ms)} =====\n`
    if (t === 0) sys += `memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n`
    for (const r of runners) if (t === Math.ceil(r.start / 5) * 5) sys += `memtrace runner {"pid":${r.pid},"model":"${r.model}","blob":"${r.blob}"}\n`
    sys += f.meminfo({ total, free: available - cache, available, cached: cache, swapTotal: 4 * GIB, swapFree: 4 * GIB, anon })
    sys += f.psi([0, 0, 0], [0, 0, 0], [812_345, 301_234])
    sys += `index, uuid, name, memory.used [MiB], memory.total [MiB]\n0, ${UUID}, ${GPU_NAME}, ${mib(used)} MiB, ${mib(GPU_TOTAL)} MiB\n`
    if (perProcess) {
      sys += 'gpu_uuid, pid, used_gpu_memory [MiB]\n'
      runners.forEach((r, i) => {
        if (own[i]) sys += `${UUID}, ${r.pid}, ${mib(own[i] as number)} MiB\n`
      })
    }
    const listed = runners.filter(r => t >= r.start && t <= r.end && t < r.unlistedFrom)
    const models = listed.map(r => ({
      name: r.model,
      digest: r.digest,
      size: r.size,
      sizeVram: Math.round(r.size * r.vramShare),
      context: 4096,
      family: r.family,
      parameterSize: r.parameterSize,
      quant: 'Q4_K_M',
      expiresAt: new Date(ms + 300_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      until: '5 minutes from now',
    }))
    sys += f.apiPs(models, false) + '\n'
  }
  writeFileSync(join(dir, 'system-memtrace-20261120-100000.log'), sys)
}

const root = join('render', 'test', 'traces')
write(join(root, 'nvidia-orphan'), true)
write(join(root, 'nvidia-orphan-device-only'), false)
