/**
 * Writes the GPU host traces in render/test/fixtures/gpu-hosts/: a DGX Spark
 * (GB10, unified memory, the daemon's nvidia-smi queries with `[N/A]` memory
 * and per-process rows), a Jetson Orin (JetPack 6's nvidia-smi table with
 * `Not Supported`, tegrastats), an AMD host as the daemon records it (amdgpu
 * sysfs), an AMD user's loop (`free -h`, `rocm-smi --showmeminfo vram`,
 * `ollama ps`) and the same with `amd-smi metric --mem-usage`. Each source is printed in the layout the real program prints
 * (core/test/fixtures/system/*). Deterministic: rerun to rewrite byte for byte.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as f from './sample-format.js'

const GIB = f.GIB
const MIB = 1024 ** 2
const ROOT = join('render', 'test', 'fixtures', 'gpu-hosts')
const SECONDS = 600
const SYS_EVERY = 5

interface Runner {
  pid: number
  model: string
  size: number
  /** Share of the model Ollama puts on the GPU. */
  vramShare: number
  start: number
  end: number
  rss: number
  /** Its own GPU memory once loaded. */
  gpu: number
}

const rise = (t: number, r: Runner, full: number) => (t < r.start || t > r.end ? 0 : full * Math.min(1, (t - r.start + 1) / 20))
const alive = (t: number, r: Runner) => t >= r.start && t <= r.end

function loaded(r: Runner, ms: number): f.Loaded {
  return {
    name: r.model, digest: '0'.repeat(12) + String(r.pid).padStart(52, '0'), size: r.size, sizeVram: Math.round(r.size * r.vramShare), context: 8192,
    family: 'llama', parameterSize: '8B', quant: 'Q4_K_M', expiresAt: new Date(ms + 300_000).toISOString(), until: '4 minutes from now',
  }
}

function procTrace(t0: number, serve: number, runners: Runner[]): string {
  let out = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  for (let t = 0; t < SECONDS; t++) {
    const ms = t0 + t * 1000
    out += f.procRow(ms, serve, 1, 'ollama', 90 * 1024, 6 * 1024 * 1024, '/usr/local/bin/ollama serve')
    for (const r of runners) {
      if (!alive(t, r)) continue
      out += f.procRow(ms, r.pid, serve, 'ollama', (80 * MIB + rise(t, r, r.rss)) / 1024, 40 * 1024 * 1024, `/usr/local/bin/ollama runner --ollama-engine --model /usr/share/ollama/.ollama/models/blobs/sha256-${String(r.pid).padStart(64, '0')} --port ${40000 + r.pid % 1000}`)
    }
  }
  return out
}

function write(name: string, t0: number, proc: string, sys: string): void {
  const d = join(ROOT, name)
  mkdirSync(d, { recursive: true })
  const stamp = new Date(t0).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
  writeFileSync(join(d, `ollama-process-memtrace-${stamp}.tsv`), proc)
  writeFileSync(join(d, `system-memtrace-${stamp}.log`), sys)
}

function memLines(total: number, used: number, swapTotal = 0): string {
  const available = total - used
  return f.meminfo({ total, free: available * 0.7, available, cached: available * 0.25, swapTotal, swapFree: swapTotal, anon: used * 0.9 })
}

/** DGX Spark: 121.7 GiB, GPU memory is system RAM; the daemon's two nvidia-smi queries. */
function dgxSpark(): void {
  const t0 = Date.UTC(2026, 10, 2, 10, 0, 0)
  const uuid = 'GPU-2dee1e25-b3b5-007e-2b55-79f2d0f2ebe5'
  const small: Runner = { pid: 4101, model: 'llama3.1:8b', size: 6_300_000_000, vramShare: 1, start: 30, end: 250, rss: 1.1 * GIB, gpu: 5.4 * GIB }
  const big: Runner = { pid: 4233, model: 'llama3.3:70b', size: 45_200_000_000, vramShare: 1, start: 280, end: 590, rss: 2.3 * GIB, gpu: 49 * GIB }
  const runners = [small, big]
  let sys = ''
  for (let t = 0; t < SECONDS; t += SYS_EVERY) {
    const ms = t0 + t * 1000
    sys += `===== ${f.iso(ms)} =====\n`
    if (t === 0) sys += 'memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n'
    const held = runners.reduce((a, r) => a + rise(t, r, r.rss) + rise(t, r, r.gpu), 0)
    sys += memLines(121.69 * GIB, 8.6 * GIB + held)
    sys += `index, uuid, name, memory.used [MiB], memory.total [MiB]\n0, ${uuid}, NVIDIA GB10, [N/A], [N/A]\n`
    sys += 'gpu_uuid, pid, used_gpu_memory [MiB]\n'
    for (const r of runners) if (alive(t, r) && rise(t, r, r.gpu) > 0) sys += `${uuid}, ${r.pid}, ${Math.round(rise(t, r, r.gpu) / MIB)} MiB\n`
    const models = runners.filter(r => alive(t, r)).map(r => loaded(r, ms))
    sys += f.apiPs(models, false) + '\n'
  }
  write('dgx-spark', t0, procTrace(t0, 4000, runners), sys)
}

const ORIN_TABLE = (time: string) => `${time}
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 540.4.0                Driver Version: 540.4.0      CUDA Version: 12.6     |
|-----------------------------------------+----------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |
|                                         |                      |               MIG M. |
|=========================================+======================+======================|
|   0  Orin (nvgpu)                  N/A  | N/A              N/A |                  N/A |
| N/A   N/A  N/A               N/A /  N/A | Not Supported        |     N/A          N/A |
|                                         |                      |                  N/A |
+-----------------------------------------+----------------------+----------------------+
                                                                                         
+---------------------------------------------------------------------------------------+
| Processes:                                                                            |
|  GPU   GI   CI        PID   Type   Process name                            GPU Memory |
|        ID   ID                                                             Usage      |
|=======================================================================================|
|  No running processes found                                                           |
+---------------------------------------------------------------------------------------+
`

/** Jetson AGX Orin 64 GB: nvidia-smi gives no memory and no processes; tegrastats gives the board's RAM. */
function jetsonOrin(): void {
  const t0 = Date.UTC(2026, 10, 2, 11, 0, 0)
  const a: Runner = { pid: 5101, model: 'llama3.2:3b', size: 3_400_000_000, vramShare: 1, start: 30, end: 250, rss: 0.9 * GIB, gpu: 2.6 * GIB }
  const b: Runner = { pid: 5222, model: 'qwen2.5:14b', size: 11_100_000_000, vramShare: 1, start: 280, end: 590, rss: 1.4 * GIB, gpu: 9.2 * GIB }
  const runners = [a, b]
  const total = 62801 * MIB
  let sys = ''
  for (let t = 0; t < SECONDS; t += SYS_EVERY) {
    const ms = t0 + t * 1000
    const d = new Date(ms)
    sys += `===== ${f.iso(ms)} =====\n`
    if (t === 0) sys += 'memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n'
    const used = 4.2 * GIB + runners.reduce((s, r) => s + rise(t, r, r.rss) + rise(t, r, r.gpu), 0)
    sys += memLines(total, used, 31400 * MIB)
    const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()]
    const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]
    const hms = d.toISOString().slice(11, 19)
    sys += ORIN_TABLE(`${day} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${hms} ${d.getUTCFullYear()}`)
    const mm = String(d.getUTCMonth() + 1).padStart(2, '0')
    const dd = String(d.getUTCDate()).padStart(2, '0')
    sys += `${mm}-${dd}-${d.getUTCFullYear()} ${hms} RAM ${Math.round(used / MIB)}/62801MB (lfb 1759x4MB) SWAP 0/31400MB (cached 0MB) CPU [3%@729,1%@729,0%@729,0%@729,2%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729] EMC_FREQ 0%@2133 GR3D_FREQ ${t % 20 === 0 ? 61 : 0}%@[611,611] VIC_FREQ 729 APE 174 CPU@44.562C Tboard@32C SOC2@40.093C Tdiode@33C SOC0@41.093C GPU@42C tj@44.343C SOC1@41.25C VDD_GPU_SOC 2340mW/2340mW VDD_CPU_CV 390mW/390mW VIN_SYS_5V0 4025mW/4025mW\n`
    const models = runners.filter(r => alive(t, r)).map(r => loaded(r, ms))
    sys += f.apiPs(models, false) + '\n'
  }
  write('jetson-orin', t0, procTrace(t0, 5000, runners), sys)
}

/** Radeon RX 7900 XTX (24 GiB) on a 64 GiB host, as the daemon records it: amdgpu's sysfs files. */
function amdSysfs(): void {
  const t0 = Date.UTC(2026, 10, 2, 12, 0, 0)
  const vram = 25753026560
  const a: Runner = { pid: 6101, model: 'qwen2.5-coder:14b', size: 10_900_000_000, vramShare: 1, start: 30, end: 250, rss: 0.8 * GIB, gpu: 9.6 * GIB }
  const b: Runner = { pid: 6230, model: 'llama3.3:70b', size: 45_200_000_000, vramShare: 0.38, start: 280, end: 590, rss: 24.5 * GIB, gpu: 21.8 * GIB }
  const runners = [a, b]
  let sys = ''
  for (let t = 0; t < SECONDS; t += SYS_EVERY) {
    const ms = t0 + t * 1000
    sys += `===== ${f.iso(ms)} =====\n`
    if (t === 0) sys += 'memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n'
    sys += memLines(64 * GIB, 6.1 * GIB + runners.reduce((s, r) => s + rise(t, r, r.rss), 0))
    const used = 1.1 * GIB + runners.reduce((s, r) => s + rise(t, r, r.gpu), 0)
    sys += `/sys/class/drm/card1/device/mem_info_vram_total:${vram}\n/sys/class/drm/card1/device/mem_info_vram_used:${Math.round(used)}\n`
    sys += `/sys/class/drm/card1/device/mem_info_gtt_total:${32 * GIB}\n/sys/class/drm/card1/device/mem_info_gtt_used:${Math.round(90 * MIB)}\n`
    const models = runners.filter(r => alive(t, r)).map(r => loaded(r, ms))
    sys += f.apiPs(models, false) + '\n'
  }
  write('amd-sysfs', t0, procTrace(t0, 6000, runners), sys)
}

/** The same kind of host watched by a user's loop: `free -h`, `rocm-smi --showmeminfo vram`, `ollama ps`. */
function amdRocmLoop(): void {
  const t0 = Date.UTC(2026, 10, 2, 13, 0, 0)
  const vram = 25753026560
  const a: Runner = { pid: 7101, model: 'mistral-small:24b', size: 16_700_000_000, vramShare: 1, start: 20, end: 590, rss: 0.8 * GIB, gpu: 15.1 * GIB }
  let sys = ''
  const gi = (b: number) => `${(b / GIB).toFixed(1)}Gi`
  for (let t = 0; t < SECONDS; t += 10) {
    const ms = t0 + t * 1000
    const used = 5.9 * GIB + rise(t, a, a.rss)
    const total = 62.7 * GIB
    sys += `===== ${f.iso(ms)} =====\n`
    sys += '               total        used        free      shared  buff/cache   available\n'
    sys += `Mem:            ${gi(total)}       ${gi(used)}        ${gi(total - used - 9 * GIB)}       120Mi       ${gi(9 * GIB)}        ${gi(total - used)}\n`
    sys += 'Swap:          8.0Gi          0B       8.0Gi\n'
    sys += '======================= ROCm System Management Interface =======================\n'
    sys += '============================= Memory Usage (Bytes) =============================\n'
    sys += `GPU[0]          : VRAM Total Memory (B): ${vram}\n`
    sys += `GPU[0]          : VRAM Total Used Memory (B): ${Math.round(1.1 * GIB + rise(t, a, a.gpu))}\n`
    sys += '================================================================================\n'
    sys += '============================= End of ROCm SMI Log ==============================\n'
    sys += f.ollamaPs(alive(t, a) ? [loaded(a, ms)] : [])
    sys += '\n'
  }
  write('amd-rocm-loop', t0, procTrace(t0, 7000, [a]), sys)
}

/**
 * A host whose only AMD tool is amd-smi, watched by a user's loop: `free -h`,
 * `amd-smi metric --mem-usage` (MB that are whole MiB), `ollama ps`.
 */
function amdSmiLoop(): void {
  const t0 = Date.UTC(2026, 10, 2, 14, 0, 0)
  const vramMib = 24560
  const gttMib = 31948
  const a: Runner = { pid: 7201, model: 'qwen2.5-coder:14b', size: 10_900_000_000, vramShare: 1, start: 30, end: 580, rss: 0.7 * GIB, gpu: 9.8 * GIB }
  let sys = ''
  const gi = (b: number) => `${(b / GIB).toFixed(1)}Gi`
  for (let t = 0; t < SECONDS; t += 10) {
    const ms = t0 + t * 1000
    const used = 6.2 * GIB + rise(t, a, a.rss)
    const total = 62.7 * GIB
    const vramUsed = Math.floor((0.9 * GIB + rise(t, a, a.gpu)) / MIB)
    const gttUsed = 41
    sys += `===== ${f.iso(ms)} =====\n`
    sys += '               total        used        free      shared  buff/cache   available\n'
    sys += `Mem:            ${gi(total)}       ${gi(used)}        ${gi(total - used - 9 * GIB)}       120Mi       ${gi(9 * GIB)}        ${gi(total - used)}\n`
    sys += 'Swap:          8.0Gi          0B       8.0Gi\n'
    sys += 'GPU: 0\n    MEM_USAGE:\n'
    sys += `        TOTAL_VRAM: ${vramMib} MB\n        USED_VRAM: ${vramUsed} MB\n        FREE_VRAM: ${vramMib - vramUsed} MB\n`
    sys += `        TOTAL_VISIBLE_VRAM: ${vramMib} MB\n        USED_VISIBLE_VRAM: ${vramUsed} MB\n        FREE_VISIBLE_VRAM: ${vramMib - vramUsed} MB\n`
    sys += `        TOTAL_GTT: ${gttMib} MB\n        USED_GTT: ${gttUsed} MB\n        FREE_GTT: ${gttMib - gttUsed} MB\n\n`
    sys += f.ollamaPs(alive(t, a) ? [loaded(a, ms)] : [])
    sys += '\n'
  }
  write('amd-smi-loop', t0, procTrace(t0, 7000, [a]), sys)
}

dgxSpark()
jetsonOrin()
amdSysfs()
amdRocmLoop()
amdSmiLoop()
