/**
 * The benchmark's second case: a busy host over four hours at 1 Hz, where
 * 10,000 processes (each its own PID) come and go: llama-server runners under
 * `ollama serve`, and `ollama run` clients, each with a command line of about
 * 200 characters, alive for 10 s to 1 min. The system log beside it is a
 * Linux host's every 5 s: meminfo, PSI, nvidia-smi, `ollama ps` and /api/ps
 * listing the runners alive. Deterministic: the same bytes on every run.
 */
import { createWriteStream } from 'node:fs'
import * as f from '../../scripts/sample-format.js'

export const MANY = 10_000
const SECONDS = 4 * 3600
const T0 = Date.UTC(2026, 2, 2, 0, 0, 0)
const SERVER = 1000
const MODELS = 40

/** Writes what `produce` pushes through one buffered stream, waiting when it is full. */
export async function writeStreamed(path: string, produce: (push: (s: string) => Promise<void>) => Promise<void>): Promise<void> {
  const ws = createWriteStream(path)
  let buf = ''
  const push = async (s: string) => {
    buf += s
    if (buf.length > 1 << 20) {
      if (!ws.write(buf)) await new Promise<void>(r => ws.once('drain', () => r()))
      buf = ''
    }
  }
  await produce(push)
  ws.write(buf)
  await new Promise<void>(r => ws.end(() => r()))
}

interface Model {
  name: string
  digest: string
  size: number
}

interface Proc {
  pid: number
  ppid: number
  comm: string
  command: string
  start: number
  end: number
  peakKb: number
  model?: Model
}

const hex = (r: () => number, n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(r() * 16)]).join('')

function plan(): { procs: Proc[]; models: Model[] } {
  const r = f.rng(10_000)
  const families = ['qwen2.5-coder', 'llama3.1', 'gemma2', 'mistral-nemo', 'phi4', 'deepseek-r1', 'granite3.1-dense', 'codestral']
  const models: Model[] = Array.from({ length: MODELS }, (_, i) => ({
    name: `${families[i % families.length]}:${[1, 3, 7, 8, 14, 32][i % 6]}b-q${4 + (i % 3)}_K_M-v${i}`,
    digest: hex(r, 64),
    size: Math.round((1 + r() * 19) * 1e9),
  }))
  const procs: Proc[] = []
  for (let k = 0; k < MANY; k++) {
    const start = Math.floor(r() * (SECONDS - 70))
    const end = start + 10 + Math.floor(r() * 50)
    const pid = 20_000 + k * 7
    const port = 40_000 + (k % 20_000)
    if (k % 5 < 2) {
      const m = models[Math.floor(r() * MODELS)] as Model
      const command =
        `/usr/local/lib/ollama/llama-server --model /usr/share/ollama/.ollama/models/blobs/sha256-${m.digest} ` +
        `--port ${port} --host 127.0.0.1 --no-webui --offline -c 8192 -np 4 --flash-attn auto -ngl 99`
      procs.push({ pid, ppid: SERVER, comm: 'llama-server', command, start, end, peakKb: m.size / 1024, model: m })
    } else {
      const m = models[Math.floor(r() * MODELS)] as Model
      const command = `/usr/local/bin/ollama run ${m.name} --keepalive 5m --verbose --format json "summarise build log ${hex(r, 12)} of job ${100_000 + k} for the nightly report, in three short paragraphs"`
      procs.push({ pid, ppid: 3000 + (k % 50), comm: 'ollama', command, start, end, peakKb: 30_000 + r() * 40_000 })
    }
  }
  return { procs, models }
}

/** Writes the two traces; returns nothing but the files. */
export async function generateMany(procPath: string, sysPath: string): Promise<void> {
  const { procs } = plan()
  const r = f.rng(4242)
  // Who is alive each second, by start.
  const byStart: Proc[][] = Array.from({ length: SECONDS }, () => [])
  for (const p of procs) byStart[p.start]?.push(p)
  const rssKb = (p: Proc, s: number) => Math.round(p.peakKb * Math.min(1, (s - p.start + 1) / 8) * (0.97 + r() * 0.03))
  await writeStreamed(procPath, async push => {
    await push('ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n')
    let alive: Proc[] = []
    for (let s = 0; s < SECONDS; s++) {
      alive = alive.filter(p => p.end >= s).concat(byStart[s] ?? [])
      const ts = f.iso(T0 + s * 1000)
      await push(`${ts}\t${SERVER}\t1\tollama\t${Math.round(90_000 + r() * 5000)}\t6291456\t/usr/local/bin/ollama serve\n`)
      for (const p of alive) await push(`${ts}\t${p.pid}\t${p.ppid}\t${p.comm}\t${rssKb(p, s)}\t${Math.round(p.peakKb * 1.6)}\t${p.command}\n`)
    }
  })
  await writeStreamed(sysPath, async push => {
    const total = 256 * f.GIB
    for (let s = 0; s < SECONDS; s += 5) {
      const runners = procs.filter(p => p.model && p.start <= s && p.end >= s)
      const held = runners.reduce((a, p) => a + (p.model as Model).size, 0)
      const available = Math.max(2 * f.GIB, total - 12 * f.GIB - held)
      const ms = T0 + s * 1000
      const loaded: f.Loaded[] = runners.map(p => {
        const m = p.model as Model
        return { name: m.name, digest: m.digest, size: m.size, sizeVram: m.size, context: 8192, family: 'llama', parameterSize: '8B', quant: 'Q4_K_M', expiresAt: f.iso(ms + 300_000), until: '4 minutes from now' }
      })
      let block = `===== ${f.iso(ms)} =====\n`
      block += f.meminfo({ total, free: available * 0.7, available, cached: 20 * f.GIB, swapTotal: 8 * f.GIB, swapFree: 8 * f.GIB, anon: held + 6 * f.GIB })
      block += f.psi([0, 0, 0], [0, 0, 0], [12_000_000 + s, 4_000_000 + s])
      block += f.nvidiaSmi([0, 1, 2, 3].map(g => ({ name: 'NVIDIA H100 80GB HBM3', used: Math.min(80 * f.GIB, held / 4 + g * f.GIB), total: 80 * f.GIB })))
      block += f.ollamaPs(loaded) + f.apiPs(loaded, false) + '\n'
      await push(block)
    }
  })
}
