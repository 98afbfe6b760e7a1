import t from 'tap'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { readLock } from '../lock.js'
import { gone, memtrace, read, ROOT, traceFiles, until } from './helpers.js'

const FIXTURES = join(ROOT, 'daemon', 'test', 'fixtures', 'windows')
const LLAMA = '667b0c1932bc6ffc593ed1d03f895bf2dc8dc6df21db3042284a6f4416b06a29'
const GEMMA = 'e796792eba26c4d3b04b0ac5adb01a453dd9ec2dfd83b6c59cbf6fe5f30b0f68'

/**
 * Windows cannot run here, so its programs are executables that print what
 * the real ones print (fixtures/windows/, README there), in
 * MEMTRACE_WINDOWS_BIN, which replaces %SystemRoot%'s typeperf.exe and
 * powershell.exe; MEMTRACE_PLATFORM=win32 makes memtrace take its Windows
 * path: the same code a Windows PC runs. The PowerShell stand-in decodes the
 * -EncodedCommand it is given, as PowerShell does, and answers the process
 * listing's script (one process, a listing per line read, the PIDs' CIM
 * lines once) or the lock's start-time query; the scene file says which
 * processes run.
 */
function windowsHost(dir: string): { env: NodeJS.ProcessEnv; calls: string; scene: (s: 'llama3' | 'switch' | 'gemma3') => void; listers: string } {
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
  let buf = ''
  const answer = () => {
    const scene = fs.readFileSync(${JSON.stringify(sceneFile)}, 'utf8').trim()
    const lines = fs.readFileSync(${JSON.stringify(FIXTURES)} + '/processes-' + scene + '.txt', 'utf8').split('\\n').filter(Boolean)
    const listed = new Set(lines.filter(l => l.startsWith('P\\t')).map(l => l.split('\\t')[1]))
    let out = ''
    for (const l of lines) {
      const f = l.split('\\t')
      if (f[0] === 'T' && !first) continue
      if (f[0] === 'N') {
        if (announced.has(f[1])) continue
        announced.add(f[1])
      }
      out += l + '\\n'
    }
    for (const p of announced) if (!listed.has(p)) announced.delete(p)
    first = false
    process.stdout.write(out)
  }
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', d => {
    buf += d
    for (let nl; (nl = buf.indexOf('\\n')) !== -1; buf = buf.slice(nl + 1)) answer()
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
const [, header, ...rows] = fs.readFileSync(${JSON.stringify(join(FIXTURES, 'typeperf-system.txt'))}, 'utf8').split('\\r\\n').filter((l, i) => i === 0 || l)
process.stdout.write('\\r\\n' + header + '\\r\\n')
let i = 0
setInterval(() => process.stdout.write(rows[Math.min(i++, rows.length - 1)] + '\\r\\n'), 300)`,
  )
  const env = { MEMTRACE_PLATFORM: 'win32', MEMTRACE_WINDOWS_BIN: bin }
  return { env, calls, listers, scene: s => writeFileSync(sceneFile, s) }
}

/** A user's models folder with the two models' manifests, as `ollama pull` leaves it. */
function models(home: string): void {
  for (const [model, tag, blob] of [['llama3.1', '8b', LLAMA], ['gemma3', '27b', GEMMA]] as const) {
    const d = join(home, '.ollama', 'models', 'manifests', 'registry.ollama.ai', 'library', model)
    mkdirSync(d, { recursive: true })
    writeFileSync(join(d, tag), JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${blob}`, size: 4_920_738_944 }] }))
  }
}

t.test('a simulated Windows PC: start, mark, a model switch, stop; render draws both runners by model with the commit series', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  // A user name with a space and letters outside ASCII; the trace folder under it, with a space too.
  const home = join(dir, 'Users', 'Zoë Åberg')
  models(home)
  const local = join(home, 'AppData', 'Local')
  mkdirSync(join(local, 'Ollama'), { recursive: true })
  writeFileSync(join(local, 'Ollama', 'server.log'), 'time=2026-11-30T19:11:58.000Z level=INFO source=server.go:1330 msg="llama runner started in 2.01 seconds"\n')
  let loaded: { name: string; size: number }[] = [{ name: 'llama3.1:8b', size: 6_654_289_920 }]
  const api = createServer((_q, r) => r.end(JSON.stringify({ models: loaded.map(m => ({ ...m, model: m.name, size_vram: m.size, digest: 'ab'.repeat(32), context_length: 4096, expires_at: '2026-11-30T19:17:00Z' })) })))
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  t.teardown(() => api.close())
  const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`
  const env = { ...host.env, HOME: home, USERPROFILE: home, LOCALAPPDATA: local, OLLAMA_MODELS: '' }
  const trace = join(home, 'ollama memtrace')
  const started = memtrace(['start', '--dir', trace, '--ollama-url', url, '--interval', '500ms', '--system-interval', '1s'], env)
  t.equal(started.code, 0, started.stderr)
  const pid = readLock(trace)?.pid as number
  t.teardown(() => {
    if (!gone(pid)) process.kill(pid, 'SIGKILL')
  })
  const { proc, sys } = traceFiles(trace)
  const named = (model: string) => new RegExp(`memtrace runner \\{[^\\n]*"model":"${model.replace('.', '\\.')}"`)
  await until(() => named('llama3.1:8b').test(read(sys)), 10_000, 'the first runner named')
  const mark = memtrace(['mark', '--dir', trace, 'switching to gemma3:27b'], env)
  t.equal(mark.code, 0, mark.stderr)
  host.scene('switch')
  loaded = [...loaded, { name: 'gemma3:27b', size: 19_069_747_200 }]
  await until(() => named('gemma3:27b').test(read(sys)), 10_000, 'the second runner named')
  host.scene('gemma3')
  loaded = [{ name: 'gemma3:27b', size: 19_069_747_200 }]
  await until(() => read(proc).split('\n').some(r => r.split('\t')[1] === '15304') && !read(proc).trim().split('\n').pop()?.includes('\t14520\t'), 10_000, 'the first runner gone')
  const status = memtrace(['status', '--dir', trace], env)
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, `pid ${pid}`)
  t.match(status.stdout, `server log: ${join(local, 'Ollama', 'server.log')}`, "Ollama's own log, found in %LOCALAPPDATA%")
  const stop = memtrace(['stop', '--dir', trace], env)
  t.equal(stop.code, 0, stop.stderr)
  t.match(stop.stdout, new RegExp(`^stopped \\(pid ${pid}\\) after \\d+ process and \\d+ system samples`))
  await until(() => gone(pid), 5000, 'the daemon to exit')
  t.notOk(existsSync(join(trace, 'memtrace.lock')), 'the lock released: the files were closed by the daemon itself')
  t.notOk(existsSync(join(trace, 'memtrace.stop')), 'the stop request taken')
  t.match(read(join(trace, 'memtrace.log')), /"reason":"memtrace stop"/, 'stopped by the request, not by a signal')
  const calls = read(host.calls)
  const bin = host.env.MEMTRACE_WINDOWS_BIN as string
  t.equal(calls.match(/^typeperf\.exe /gm)?.length, 1, 'one typeperf for the whole run')
  t.match(calls, /^typeperf\.exe \\Memory\\Available Bytes \\Memory\\Committed Bytes \\Memory\\Commit Limit \\Paging File\(_Total\)\\% Usage \\Memory\\Pages\/sec -si 1$/m)
  t.equal(calls.match(/^powershell\.exe listing /gm)?.length, 1, 'one PowerShell lists the processes for the whole run')
  t.match(calls, /^powershell\.exe listing -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand$/m)
  t.match(calls, new RegExp(`^powershell\\.exe start-time ${pid}$`, 'm'), "the lock's holder checked by its start time, from CIM")
  for (const p of read(host.listers).trim().split('\n')) t.ok(gone(Number(p)), 'the listing PowerShell ended with the daemon')
  t.ok(existsSync(bin))
  const rows = read(proc).trim().split('\n').slice(1).map(r => r.split('\t'))
  t.same([...new Set(rows.map(r => r[1]))].sort(), ['10236', '11872', '14520', '15304'], "Ollama's processes: the app, the server, both runners; not Explorer or System")
  const runner = rows.find(r => r[1] === '14520' && r.length > 6) as string[]
  t.same(runner.slice(2, 6), ['11872', 'ollama.exe', String(Math.floor(5523963904 / 1024)), String(Math.floor(5812568064 / 1024))], 'the parent from CIM; rss_kb the working set, vsz_kb the private bytes')
  t.match(runner[6], /^"C:\\Users\\Zoë Åberg\\AppData\\Local\\Programs\\Ollama\\ollama\.exe" runner --ollama-engine --model "C:\\Users\\Zoë Åberg\\/, 'the command line whole, in UTF-8')
  const log = read(sys)
  t.match(log, /^Total Physical Memory: +32,561 MB$/m)
  t.match(log, /^"\(PDH-CSV 4\.0\)","\\\\DESKTOP-ZOE\\Memory\\Available Bytes",/m, "the counters' CSV as typeperf printed it")
  t.match(log, /memtrace marker \{[^\n]*"text":"switching to gemma3:27b"/)
  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', '--dir', trace, '-o', out, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '', 'nothing in the trace is reported')
  const svg = readFileSync(out, 'utf8')
  for (const model of ['llama3.1:8b', 'gemma3:27b']) t.match(svg, new RegExp(`class="rss-line"[^>]*data-role="runner"[^>]*data-model="${model.replace('.', '\\.')}"`), `the runner of ${model}, named by model`)
  t.match(svg, /class="rss-line"[^>]*data-role="server"/)
  for (const s of ['commit', 'commit-limit', 'available']) t.match(svg, `data-series="${s}"`, `the Windows series ${s}`)
})
