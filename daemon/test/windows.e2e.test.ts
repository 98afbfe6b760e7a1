import t from 'tap'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { readLock } from '../lock.js'
import { gone, memtrace, read, traceFiles, until } from './helpers.js'
import { models, windowsHost } from './windows-host.js'


t.test('a simulated Windows PC: start, mark, a model switch, stop; render draws both runners by model with the commit series', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  // A user name with a space and letters outside ASCII; the trace folder under it, with a space too.
  const home = join(dir, 'Users', 'Zoë Åberg')
  models(home)
  const local = join(home, 'AppData', 'Local')
  mkdirSync(join(local, 'Ollama'), { recursive: true })
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
  // The tray app starts Ollama after memtrace: its log appears then, and is read from its start.
  writeFileSync(join(local, 'Ollama', 'server.log'), 'time=2026-11-30T19:11:57.912Z level=INFO source=sched.go:517 msg="system memory" total="31.8 GiB" free="22.6 GiB" free_swap="4.8 GiB"\n')
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
  t.match(status.stdout, `server log: ${join(local, 'Ollama', 'server.log')}`, "Ollama's own log, in %LOCALAPPDATA%")
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
  const kept = read(join(trace, readdirSync(trace).find(n => n.startsWith('ollama-server-memtrace-')) as string))
  t.match(kept, /msg="system memory" total="31\.8 GiB"/, 'its memory lines kept, though it appeared after the start')
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
