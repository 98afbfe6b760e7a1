/**
 * The daemon follows the server's own log into a third trace file: the
 * stand-in evicts under a small memory budget and has a runner killed, and
 * the file holds the decision, the starts and the kill, with no command line.
 */
import t from 'tap'
import { appendFileSync, existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findServerLog } from '../log-origin.js'
import { exited, foreground, freePort, memtrace, read, sleep, standinServer, traceFiles, until } from './helpers.js'

const serverLogOf = (dir: string) => (existsSync(dir) ? readdirSync(dir).find(f => /^ollama-server-memtrace-.*\.log$/.test(f)) : undefined)

t.test('an eviction, two starts and a kill, kept from the server log beside the traces', async t => {
  const s = await standinServer(t, { OLLAMA_STANDIN_RUNNER: 'simulated', OLLAMA_STANDIN_MEMORY_BUDGET: String(8 * 2 ** 30) }, ['phi4:14b', 'qwen3:8b'])
  const trace = join(t.testdir({}), 'trace')
  const port = await freePort()
  const d = foreground(['--dir', trace, '--ollama-url', s.url, '--system-interval', '1s', '--server-log', s.logPath, '--metrics', String(port)], s.env)
  // Following from the log's end once the server's start lines are kept: on a busy machine that takes more than a second.
  await until(() => serverLogOf(trace), 20_000, 'the start lines kept')
  await s.post({ model: 'phi4:14b', prompt: 'hi' })
  await s.post({ model: 'qwen3:8b', prompt: 'hi' })
  const pid = Number(s.runners()[0]?.trim().split(' ')[0])
  process.kill(pid, 'SIGKILL')
  // A prompt in a debug line of the log is never kept.
  appendFileSync(s.logPath, 'time=2026-01-01T00:00:00Z level=DEBUG source=server.go:1 msg="completion request" prompt="my secret prompt"\n')
  await sleep(2500)
  const status = memtrace(['status', '--dir', trace], s.env)
  t.match(status.stdout, /server log: .*server\.log, [1-9]\d* memory lines kept in .*ollama-server-memtrace-/)
  const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const evictions = Number(/^memtrace_model_evictions_total (\S+)$/m.exec(scrape)?.[1])
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const name = serverLogOf(trace)
  t.ok(name, 'the third trace file, named as the other two')
  const { proc } = traceFiles(trace)
  t.equal(name?.replace('ollama-server-', ''), proc.split('/').pop()?.replace('ollama-process-', '').replace(/\.tsv$/, '.log'), 'with their stamp')
  const kept = read(join(trace, name as string))
  t.notMatch(kept, /my secret prompt/)
  t.notMatch(kept, /--host|--no-webui|\/blobs\//, 'no command line, no path')
  const r = memtrace(['parse', '--server-log', join(trace, name as string)])
  t.equal(r.code, 0, r.stderr)
  const events = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { record: string; kind: string; port?: number; model?: string; figures?: Record<string, number> })
  t.same(events.filter(e => e.record === 'problem'), [])
  const kinds = events.map(e => e.kind)
  t.ok(kinds.includes('eviction'), 'the eviction')
  t.equal(evictions, kinds.filter(k => k === 'eviction').length, 'memtrace_model_evictions_total counts the evictions the kept log has')
  t.equal(kinds.filter(k => k === 'runner-starting').length, 2, 'both starts')
  t.ok(kinds.includes('runner-stopped'), 'the kill')
  const start = events.find(e => e.kind === 'runner-starting')
  t.match(start, { port: Number, model: /^sha256-[0-9a-f]{64}$/, figures: { numCtx: 4096, parallel: 1 } }, 'a start keeps what ties it to its runner')
})

t.test('no server log: said once, in the trace and by status; the traces go on', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  const port = await freePort()
  const d = foreground(['--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--system-interval', '1s', '--server-log', join(dir, 'nope.log'), '--metrics', String(port)], { ...process.env })
  await sleep(2200)
  t.notMatch(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /^memtrace_model_evictions_total/m, 'a log that cannot be read: no eviction count, not 0')
  t.match(memtrace(['status', '--dir', trace]).stdout, /server log: the server log .*nope\.log cannot be read; give its place with memtrace start --server-log PATH/)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const sys = read(traceFiles(trace).sys)
  t.equal(sys.match(/memtrace source-error \{[^\n]*"source":"server-log"/g)?.length, 1, 'one source-error')
  t.ok(sys.split('\n').filter(l => l.startsWith('=====')).length >= 2, 'system samples still written')
  t.notOk(serverLogOf(trace), 'no empty third file')
})

t.test('a rotated log is followed by name; 10,000 lines a second cost no tick; the kept lines are capped', async t => {
  const dir = t.testdir({ 'server.log': '' })
  const log = join(dir, 'server.log')
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--interval', '1s', '--system-interval', '1s', '--server-log', log], { ...process.env })
  await sleep(1200)
  const line = (i: number) => `time=2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z level=INFO source=sched.go:1 msg="system memory" total="31.3 GiB" free="${(i % 900) / 10 + 1} GiB" free_swap="0 B"\n`
  const noise = 'time=2026-01-01T00:00:00Z level=INFO source=routes.go:1 msg="request" status=200\n'
  // Three seconds of 10,000 lines a second, nine in ten of them noise.
  for (let s = 0; s < 3; s++) {
    let chunk = ''
    for (let i = 0; i < 10_000; i++) chunk += i % 10 === 0 ? line(i) : noise
    appendFileSync(log, chunk)
    await sleep(1000)
  }
  // The app's rotation: the file is renamed and a new one starts.
  renameSync(log, join(dir, 'server-1.log'))
  writeFileSync(log, 'time=2026-01-01T00:01:00Z level=INFO source=sched.go:1 msg="llama-server model fits alongside existing models" predicted="6.3 GiB" predicted_num_ctx=4096 num_batch=512 available="20.0 GiB" gpu_free="0 B" system_free="20.0 GiB" system_limited=true\n')
  await sleep(2200)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const status = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { missedTicks: { process: number } }
  t.equal(status.missedTicks.process, 0, 'no process tick missed')
  const kept = read(join(trace, serverLogOf(trace) as string))
  t.equal(kept.split('\n').filter(l => l.includes('system memory')).length, 600, 'at most 600 lines a minute')
  t.match(kept, /memtrace dropped \{"ts":"[^"]+","lines":2400,"reason":"more than 600 server-log lines of a kind a minute"\}/, 'the rest counted')
  t.match(kept, /fits alongside existing models/, 'the new file after the rotation, a decision beyond the cap of figures')
})

t.test('found by itself: the macOS app, Homebrew, a systemd unit, Ollama on Windows', async t => {
  const has = (...paths: string[]) => (p: string) => paths.includes(p)
  t.same(findServerLog('darwin', '/Users/u', has('/Users/u/.ollama/logs/server.log')), { file: '/Users/u/.ollama/logs/server.log' })
  t.same(findServerLog('darwin', '/Users/u', has('/opt/homebrew/var/log/ollama.log')), { file: '/opt/homebrew/var/log/ollama.log' })
  t.match(findServerLog('linux', '/root', has('/etc/systemd/system/ollama.service', '/usr/bin/journalctl')), { command: ['journalctl', '-u', 'ollama', '-f', '-n', '0', '-o', 'short-iso', '--no-pager'] })
  t.equal(findServerLog('linux', '/root', has('/usr/bin/journalctl')), undefined, 'no unit, no journal to follow')
  const local = join('C:', 'Users', 'Zoë Åberg', 'AppData', 'Local')
  t.same(findServerLog('win32', '/home/u', has(), { LOCALAPPDATA: local }), { file: join(local, 'Ollama', 'server.log') }, "Windows: Ollama's own log, named before it exists")
  t.equal(findServerLog('win32', '/Users/u', has('/Users/u/.ollama/logs/server.log'), {}), undefined, "Windows without %LOCALAPPDATA%: no log, and none of the other platforms' places")
  t.notOk(existsSync('/Users/u/.ollama'), 'made up paths only')
})

t.test('memtrace run -- ollama serve: the server\'s stderr is shown and its memory lines kept', async t => {
  const { installStandin } = await import('../../standin/install.js')
  const { spawn, spawnSync } = await import('node:child_process')
  const { freePort, BIN } = await import('./helpers.js')
  const dir = t.testdir({})
  const { ollama } = installStandin(join(dir, 'standin'))
  const port = await freePort()
  const env = { ...process.env, OLLAMA_HOST: `127.0.0.1:${port}`, OLLAMA_MODELS: join(dir, 'models'), OLLAMA_STANDIN_RUNNER: 'simulated' }
  const trace = join(dir, 'trace')
  const tmp = (await import('node:os')).tmpdir()
  const before = readdirSync(tmp)
  const run = spawn(process.execPath, [BIN, 'run', '--dir', trace, '--system-interval', '1s', '--', ollama, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  run.stderr.on('data', d => (stderr += String(d)))
  t.teardown(() => run.kill('SIGKILL'))
  const serve = await until(() => spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(run.pid)], { encoding: 'utf8' }).stdout.split('\n').find(l => /ollama serve$/.test(l.trim())), 20_000, 'ollama serve started by memtrace run')
  await until(() => (/Listening on/.test(stderr) ? true : undefined), 20_000, 'the server listening')
  await sleep(1500)
  // The server ends (as a Ctrl-C would end it): the run stops tracing and draws.
  process.kill(Number(serve.trim().split(' ')[0]), 'SIGTERM')
  await exited(run)
  t.match(stderr, /msg="Listening on 127\.0\.0\.1:\d+ \(version 0\.30\.0-standin\)"/, 'the log is shown as usual')
  const kept = read(join(trace, serverLogOf(trace) as string))
  t.match(kept, /msg="server config"/)
  t.match(kept, /\(version 0\.30\.0-standin\)/)
  t.same(readdirSync(tmp).filter(f => f.startsWith('memtrace-serve-') && !before.includes(f)), [], 'the copy of the raw log is gone')
})

t.test("llama.cpp's lines, which carry no time, are kept with the moment they were read; lines with a time stay as printed", async t => {
  const dir = t.testdir({ 'server.log': '' })
  const log = join(dir, 'server.log')
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--server-log', log], { ...process.env })
  await sleep(1200)
  const ollama = 'time=2026-12-03T14:00:00.000Z level=INFO source=ggml.go:1 msg="kv cache" device=CPU size="1.5 GiB"'
  const journal = 'Dec 03 14:00:01 host ollama[812]: llama_context:  CUDA_Host compute buffer size =   268.05 MiB'
  const llama = ['load_tensors:   CPU_Mapped model buffer size =   292.36 MiB', 'llama_kv_cache:      CUDA0 KV buffer size =  1920.00 MiB']
  const before = Date.now()
  appendFileSync(log, `${[llama[0], ollama, journal, llama[1]].join('\n')}\n`)
  const kept = await until(() => {
    const name = serverLogOf(trace)
    const text = name ? read(join(trace, name)) : ''
    return text.split('\n').length > 4 ? text : undefined
  }, 5000, 'four lines kept')
  const after = Date.now()
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const lines = kept.trimEnd().split('\n')
  t.equal(lines[1], ollama, "a line with time= as printed")
  t.equal(lines[2], journal, 'a line with a journal clock as printed')
  for (const i of [0, 3]) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/.exec(lines[i] as string)
    t.equal(m?.[2], llama[i === 0 ? 0 : 1], 'the line itself after the instant')
    const at = Date.parse(m?.[1] ?? '')
    t.ok(at >= before && at <= after, `read at ${m?.[1]}, between the write and the check`)
  }
  // Read back: the instant is the line's ts, as for `docker logs --timestamps`.
  const r = memtrace(['parse', '--server-log', join(trace, serverLogOf(trace) as string)])
  const events = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { kind: string; ts?: string; clock?: string })
  t.same(events.map(e => [e.kind, e.ts !== undefined ? Date.parse(e.ts) : e.clock]), [
    ['allocation', Date.parse(lines[0]?.slice(0, 24) ?? '')],
    ['allocation', Date.parse('2026-12-03T14:00:00Z')],
    ['allocation', 'Dec 03 14:00:01'],
    ['allocation', Date.parse(lines[3]?.slice(0, 24) ?? '')],
  ])
})

t.test("a server started before the daemon: its settings and version, looked for back in the log, kept first; its environment never", async t => {
  const config = 'time=2026-12-03T13:00:00.000Z level=INFO source=routes.go:1 msg="server config" env="map[HTTPS_PROXY:http://user:secret@proxy:3128 OLLAMA_CONTEXT_LENGTH:8192 OLLAMA_MODELS:/srv/private/models OLLAMA_NUM_PARALLEL:2 OLLAMA_ORIGINS:[http://intranet]]"'
  const version = 'time=2026-12-03T13:00:00.100Z level=INFO source=routes.go:2 msg="Listening on 127.0.0.1:11434 (version 0.30.1)"'
  const requests = Array.from({ length: 5000 }, (_, i) => `[GIN] 2026/12/03 - 13:00:${String(i % 60).padStart(2, '0')} | 200 | 1.2ms | 127.0.0.1 | POST "/api/chat"`).join('\n')
  const dir = t.testdir({ 'server.log': `${config}\n${version}\n${requests}\n` })
  const log = join(dir, 'server.log')
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--server-log', log], { ...process.env })
  t.teardown(() => void d.kill('SIGKILL'))
  await sleep(1500)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const kept = read(join(trace, serverLogOf(trace) as string))
  const [first, second, ...rest] = kept.split('\n')
  t.equal(first?.replace(/env="map\[.*\]"$/, ''), config.replace(/env="map\[.*\]"$/, ''), 'the server config line, as printed up to its env')
  t.same(/env="map\[(.*)\]"$/.exec(first ?? '')?.[1]?.split(' ').sort(), ['OLLAMA_CONTEXT_LENGTH:8192', 'OLLAMA_NUM_PARALLEL:2'], 'and of its env only the settings memtrace reads')
  t.equal(second, version, 'then the version')
  t.same(rest, [''], 'nothing else')
  t.notMatch(kept, /secret|private|intranet/, 'no proxy, path or origin')
})
