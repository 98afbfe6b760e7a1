import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import type { Test } from 'tap'
import { readLock } from '../lock.js'
import { gone, memtrace, ROOT } from './helpers.js'

const LLAMA = '667b0c1932bc6ffc593ed1d03f895bf2dc8dc6df21db3042284a6f4416b06a29'
const GEMMA = 'e796792eba26c4d3b04b0ac5adb01a453dd9ec2dfd83b6c59cbf6fe5f30b0f68'

export const FIXTURES = join(ROOT, 'daemon', 'test', 'fixtures', 'windows')

/**
 * Windows cannot run here, so its programs are executables that print what
 * the real ones print (fixtures/windows/, README there), in
 * MEMTRACE_WINDOWS_BIN, which replaces %SystemRoot%'s typeperf.exe and
 * powershell.exe; MEMTRACE_PLATFORM=win32 makes memtrace take its Windows
 * path: the same code a Windows PC runs. The PowerShell stand-in decodes the
 * -EncodedCommand it is given, as PowerShell does, and answers the process
 * listing's script (one process, a listing per line read, the PIDs' CIM
 * lines once, the GPU counters of the PIDs asked with the memory figures) or
 * the lock's start-time query; the scene file says which processes run. A
 * `no-gpu-counters` file in the folder makes a host whose GPU counters
 * cannot be read (from the next answer on, when it is made later); the
 * stand-in, as the script, no longer asks them after three failures.
 */
export function windowsHost(dir: string, typeperf = 'typeperf-system.txt'): { env: NodeJS.ProcessEnv; calls: string; scene: (s: 'llama3' | 'switch' | 'gemma3') => void; listers: string } {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  const calls = join(dir, 'calls')
  const sceneFile = join(dir, 'scene')
  const listers = join(dir, 'listers')
  writeFileSync(sceneFile, 'llama3')
  const node = (name: string, body: string) => {
    // The program itself beside it, as CommonJS whatever the package around says.
    writeFileSync(join(dir, `${name}.cjs`), `const fs = require('fs')\nconst args = process.argv.slice(2)\nconst calls = ${JSON.stringify(calls)}\n${body}\n`)
    writeFileSync(join(bin, name), `#!/bin/sh\nexec '${process.execPath}' '${join(dir, `${name}.cjs`)}' "$@"\n`)
    chmodSync(join(bin, name), 0o755)
  }
  node(
    'powershell.exe',
    `const script = Buffer.from(args[args.indexOf('-EncodedCommand') + 1] || '', 'base64').toString('utf16le')
if (script.includes('[Console]::In.ReadLine()')) {
  fs.appendFileSync(calls, 'powershell.exe listing ' + args.slice(0, -1).join(' ') + '\\n')
  fs.appendFileSync(${JSON.stringify(listers)}, process.pid + '\\n')
  const announced = new Set()
  let first = true
  let gpuFails = 0
  let buf = ''
  // A scene's file is the script's first answer on that host (every process new); later answers are worked out as the script does.
  const answer = req => {
    const want = new Set(req.split(' ').filter(Boolean))
    const scene = fs.readFileSync(${JSON.stringify(sceneFile)}, 'utf8').trim()
    const lines = fs.readFileSync(${JSON.stringify(FIXTURES)} + '/processes-' + scene + '.txt', 'utf8').split('\\n').filter(l => l && l !== '.')
    const now = new Set(lines.filter(l => l.startsWith('P\\t')).map(l => l.split('\\t')[1]))
    const fresh = new Set([...now].filter(p => !announced.has(p)))
    let out = ''
    // The GPU counters with the memory figures, only the asked PIDs' instances; or, on a host without them, why not.
    // As the script: after three failures in a row the counters are no longer asked.
    const noGpu = fs.existsSync(${JSON.stringify(join(dir, 'no-gpu-counters'))})
    const askGpu = want.has('m') && gpuFails < 3
    if (askGpu && noGpu) {
      gpuFails++
      out += 'X\\tException calling "ReadCategory" with "0" argument(s): "Category does not exist."\\n'
    } else if (askGpu) gpuFails = 0
    for (const l of lines) {
      const f = l.split('\\t')
      const gpu = askGpu && !noGpu && (f[0] === 'W' || (f[0] === 'U' && want.has(f[1].split('_')[1])))
      // The read's time as DateTime.Now.ToString('o') prints it (this host's clock in UTC).
      if (gpu && f[0] === 'W') out += 'W\\t' + new Date().toISOString().replace('Z', '0000+00:00') + '\\t' + f[2] + '\\n'
      else if (gpu || (f[0] === 'M' && want.has('m')) || (f[0] === 'P' && (want.has(f[1]) || fresh.has(f[1]))) || (f[0] === 'N' && fresh.has(f[1]))) out += l + '\\n'
    }
    for (const p of fresh) announced.add(p)
    for (const p of announced) if (!now.has(p)) {
      out += 'G\\t' + p + '\\n'
      announced.delete(p)
    }
    const slow = first && fs.existsSync(${JSON.stringify(join(dir, 'slow-start'))})
    first = false
    // A PowerShell slow to start: its first answer after 4 s.
    setTimeout(() => {
      process.stdout.write(out + '.\\n', () => {
        if (!fs.existsSync(${JSON.stringify(join(dir, 'powershell-dies'))})) return
        fs.rmSync(${JSON.stringify(join(dir, 'powershell-dies'))})
        process.exit(1)
      })
    }, slow ? 4000 : 0)
  }
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', d => {
    buf += d
    for (let nl; (nl = buf.indexOf('\\n')) !== -1; buf = buf.slice(nl + 1)) answer(buf.slice(0, nl))
  })
  process.stdin.on('end', () => process.exit(0))
} else {
  const m = /Win32_Process -Filter 'ProcessId=(\\d+)'/.exec(script)
  fs.appendFileSync(calls, 'powershell.exe start-time ' + (m ? m[1] : '?') + '\\n')
  if (!m) process.exit(2)
  try { process.kill(Number(m[1]), 0) } catch { process.exit(1) }
  process.stdout.write('2026-11-30T19:11:40.8281250Z\\r\\n')
}`,
  )
  // typeperf -si 1: a blank line, the header, then a row each second (sooner here), until it is ended.
  node(
    'typeperf.exe',
    `fs.appendFileSync(calls, 'typeperf.exe ' + args.join(' ') + '\\n')
const [, header, ...rows] = fs.readFileSync(${JSON.stringify(join(FIXTURES, typeperf))}, 'utf8').split('\\r\\n').filter((l, i) => i === 0 || l)
process.stdout.write('\\r\\n' + header + '\\r\\n')
let i = 0
const dies = ${JSON.stringify(join(dir, 'typeperf-dies'))}
setInterval(() => {
  process.stdout.write(rows[Math.min(i++, rows.length - 1)] + '\\r\\n')
  if (fs.existsSync(dies)) {
    fs.rmSync(dies)
    process.exit(1)
  }
}, 300)`,
  )
  const env = { MEMTRACE_PLATFORM: 'win32', MEMTRACE_WINDOWS_BIN: bin }
  return { env, calls, listers, scene: s => writeFileSync(sceneFile, s) }
}

/** A user's models folder with the two models' manifests, as `ollama pull` leaves it. */
export function models(home: string): void {
  for (const [model, tag, blob] of [['llama3.1', '8b', LLAMA], ['gemma3', '27b', GEMMA]] as const) {
    const d = join(home, '.ollama', 'models', 'manifests', 'registry.ollama.ai', 'library', model)
    mkdirSync(d, { recursive: true })
    writeFileSync(join(d, tag), JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${blob}`, size: 4_920_738_944 }] }))
  }
}

/** A model as /api/ps lists it: its name and size (all of it on the GPU). */
export type Listed = { name: string; size: number }

/**
 * A Windows user at `home` (models under `.ollama`, `%LOCALAPPDATA%\\Ollama`)
 * beside an Ollama API whose /api/ps lists what `load` last gave (llama3.1:8b
 * to begin with), and `memtrace start` run there into `trace` at 500 ms and
 * 1 s (`extra`: more of its options); the daemon is killed at teardown if it
 * is still running.
 */
export async function windowsUser(t: Test, host: { env: NodeJS.ProcessEnv }, home: string, trace: string, extra: string[] = []): Promise<{ env: NodeJS.ProcessEnv; local: string; load: (m: Listed[]) => void; listed: () => Listed[]; pid: number }> {
  models(home)
  const local = join(home, 'AppData', 'Local')
  mkdirSync(join(local, 'Ollama'), { recursive: true })
  let loaded: Listed[] = [{ name: 'llama3.1:8b', size: 6_654_289_920 }]
  const api = createServer((_q, r) => r.end(JSON.stringify({ models: loaded.map(m => ({ ...m, model: m.name, size_vram: m.size, digest: 'ab'.repeat(32), context_length: 4096, expires_at: '2026-11-30T19:17:00Z' })) })))
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  t.teardown(() => api.close())
  const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`
  const env = { ...host.env, HOME: home, USERPROFILE: home, LOCALAPPDATA: local, OLLAMA_MODELS: '' }
  const started = memtrace(['start', '--dir', trace, '--ollama-url', url, '--interval', '500ms', '--system-interval', '1s', ...extra], env)
  t.equal(started.code, 0, started.stderr)
  const pid = readLock(trace)?.pid as number
  t.teardown(() => {
    if (!gone(pid)) process.kill(pid, 'SIGKILL')
  })
  return { env, local, load: m => (loaded = m), listed: () => loaded, pid }
}
