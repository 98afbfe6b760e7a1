/**
 * The Windows sample: a trace made of what Windows prints, pasted block by
 * block the way a user on Windows records by hand (see samples/README.md).
 * Every source is in its command's layout (docs/format.md, "Windows"): a
 * process CSV of `Get-CimInstance Win32_Process`, `systeminfo | findstr
 * Memory`, `Get-Counter` with its default view, and `ollama ps`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as f from './sample-format.js'

const GIB = f.GIB
const MIB = 1024 ** 2

/** `32,562 MB` as systeminfo prints it (en-US): whole MB, thousands by comma, the value at column 28. */
function systeminfo(total: number, avail: number, limit: number, commit: number): string {
  const mb = (b: number) => `${Math.floor(b / MIB).toLocaleString('en-US')} MB`
  const row = (label: string, b: number) => `${`${label}:`.padEnd(27)}${mb(b)}\n`
  return row('Total Physical Memory', total) + row('Available Physical Memory', avail) + row('Virtual Memory: Max Size', limit) + row('Virtual Memory: Available', limit - commit) + row('Virtual Memory: In Use', commit)
}

/** Get-Counter's default view: the sample's time once, each counter's path (lower case) and its value under it. */
function getCounter(ms: number, host: string, values: [string, number][]): string {
  const d = new Date(ms)
  const h = d.getUTCHours() % 12 || 12
  const stamp = `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`
  let out = `${'Timestamp'.padEnd(26)}CounterSamples\n${'---------'.padEnd(26)}--------------\n`
  values.forEach(([path, v], i) => {
    out += `${(i === 0 ? stamp : '').padEnd(26)}\\\\${host}\\${path} :\n${''.padEnd(26)}${v}\n\n`
  })
  return out
}

const csv = (cells: (string | number)[]) => cells.map(c => `"${String(c).replaceAll('"', '""')}"`).join(',') + '\n'

interface WinProc {
  pid: number
  ppid: number
  name: string
  command: string
  start: number
  end: number
  ws: (t: number) => number
}

function ramp(t0: number, t1: number, a: number, b: number, jitter: number, seed: number) {
  const r = f.rng(seed)
  const noise = Array.from({ length: 400 }, () => (r() - 0.5) * jitter)
  return (t: number) => {
    const k = t <= t0 ? 0 : t >= t1 ? 1 : (t - t0) / (t1 - t0)
    return Math.round(Math.max(0, a + (b - a) * k + (noise[t % noise.length] as number)))
  }
}

/** A 32 GB Windows PC with an 8 GB GPU switching from llama3.1:8b to gemma3:27b: the two runners overlap and commit nears its limit. */
export function windowsSwitch(): void {
  const d = join('samples', 'windows-model-switch')
  mkdirSync(d, { recursive: true })
  const t0 = Date.UTC(2026, 10, 30, 19, 12, 0)
  const seconds = 12 * 60
  const app = 'C:\\Users\\Dana Lee\\AppData\\Local\\Programs\\Ollama'
  const blobs = 'C:\\Users\\Dana Lee\\.ollama\\models\\blobs'
  const blobA = 'sha256-667b0c1932bc6ffc593ed1d03f895bf2dc8dc6df21db3042284a6f4416b06a29'
  const blobB = 'sha256-e796792eba26c4d3b04b0ac5adb01a453dd9ec2dfd83b6c59cbf6fe5f30b0f68'
  const runner = (blob: string, port: number) => `"${app}\\ollama.exe" runner --ollama-engine --model "${blobs}\\${blob}" --port ${port}`
  const tray: WinProc = { pid: 10236, ppid: 6120, name: 'ollama app.exe', command: `"${app}\\ollama app.exe" `, start: 0, end: seconds, ws: ramp(0, 1, 46 * MIB, 46 * MIB, MIB, 1) }
  const serve: WinProc = { pid: 11872, ppid: 10236, name: 'ollama.exe', command: `"${app}\\ollama.exe" serve`, start: 0, end: seconds, ws: ramp(0, 60, 38 * MIB, 64 * MIB, MIB, 2) }
  const ra: WinProc = { pid: 14520, ppid: 11872, name: 'ollama.exe', command: runner(blobA, 50217), start: 40, end: 430, ws: ramp(40, 60, 40 * MIB, 1.9 * GIB, 30 * MIB, 3) }
  const rb: WinProc = { pid: 17384, ppid: 11872, name: 'ollama.exe', command: runner(blobB, 50488), start: 365, end: seconds, ws: ramp(365, 420, 60 * MIB, 11.2 * GIB, 80 * MIB, 4) }
  const procs = [tray, serve, ra, rb]
  const a = { name: 'llama3.1:8b', digest: '46e0c10c039e', size: 6_900_000_000, sizeVram: 6_900_000_000, context: 8192, until: '4 minutes from now' }
  const b = { name: 'gemma3:27b', digest: 'a418f5838eaf', size: 21_600_000_000, sizeVram: 7_300_000_000, context: 8192, until: '4 minutes from now' }
  const total = 32_562 * MIB
  const limit = total + 4_864 * MIB
  let log = ''
  for (let t = 0; t < seconds; t += 5) {
    const ms = t0 + t * 1000
    const alive = procs.filter(p => t >= p.start && t <= p.end)
    const runners = [ra, rb].filter(p => alive.includes(p))
    // Resident is what runners touched; commit is what they reserved: the whole model off the GPU, and its buffers.
    const resident = runners.reduce((s, p) => s + p.ws(t), 0)
    const committed = (t >= ra.start && t <= ra.end ? 2.6 * GIB : 0) + (t >= rb.start ? Math.min(1, (t - rb.start) / 30) * 17.0 * GIB : 0)
    const r = f.rng(1000 + t)
    const avail = Math.round(total - 9.1 * GIB - resident - r() * 64 * MIB)
    const commit = Math.round(14.2 * GIB + committed + r() * 96 * MIB)
    const models = [...(t >= rb.start ? [b] : []), ...(t >= ra.start && t <= ra.end ? [a] : [])]
    log += `===== ${f.iso(ms)} =====\n`
    log += csv(['ProcessId', 'ParentProcessId', 'Name', 'WorkingSetSize', 'CommandLine'])
    for (const p of alive) log += csv([p.pid, p.ppid, p.name, p.ws(t), p.command])
    log += '\n' + systeminfo(total, avail, limit, commit) + '\n'
    log += getCounter(ms, 'desktop-dana', [
      ['memory\\available bytes', avail],
      ['memory\\committed bytes', commit],
      ['memory\\commit limit', limit],
      ['memory\\pages/sec', Math.round(r() * (committed > 18 * GIB ? 900 : 20) * 1000) / 1000],
    ])
    log += f.ollamaPs(models.map(m => ({ ...m, family: '', parameterSize: '', quant: '', expiresAt: '' }))) + '\n'
  }
  writeFileSync(join(d, 'ollama-process-memtrace-20261130-191200.tsv'), 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n')
  writeFileSync(join(d, 'system-memtrace-20261130-191200.log'), log.replaceAll('\n', '\r\n'))
}
