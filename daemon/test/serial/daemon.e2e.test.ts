import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { installStandin } from '../../../standin/install.js'
import { gone, memtrace, read, sleep, stopChild, traceFiles, until } from '../helpers.js'

/** The stand-in Ollama, serving on a free loopback port with two pulled models. */
async function standin(t: Test) {
  const dir = t.testdir({})
  const { bin, ollama } = installStandin(join(dir, 'standin'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, OLLAMA_HOST: `127.0.0.1:${port}`, OLLAMA_MODELS: join(dir, 'models'), OLLAMA_STANDIN_SCALE: '0.02', OLLAMA_STANDIN_RUNNER: 'simulated' }
  const run = (...args: string[]) =>
    new Promise<number>(ok => spawn(ollama, args, { env, stdio: 'ignore' }).once('exit', c => ok(c ?? 1)))
  await run('pull', 'qwen2.5-coder:7b', 'llama3.2:3b')
  const serve = spawn(ollama, ['serve'], { env, stdio: 'ignore' })
  t.teardown(() => stopChild(serve))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 50; i++) {
    if (await fetch(url).then(() => true, () => false)) break
    await sleep(100)
  }
  return { dir, env, url, run }
}

t.test('end to end on Linux: start, switch models, stop, render', async t => {
  const s = await standin(t)
  const trace = join(s.dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--ollama-url', s.url], s.env)
  t.equal(started.code, 0, started.stderr)
  t.match(started.stdout, /memtrace daemon started \(pid \d+\), tracing into/)
  t.teardown(() => memtrace(['stop', '--dir', trace]))
  await sleep(2500)
  t.equal(await s.run('run', 'llama3.2:3b', 'hi'), 0)
  await sleep(6000)
  const mark = memtrace(['mark', '--dir', trace, 'switch to qwen2.5-coder:7b'], s.env)
  t.equal(mark.code, 0, mark.stderr)
  t.equal(await s.run('run', 'qwen2.5-coder:7b', 'hi'), 0) // the first is still loaded
  await sleep(6000)
  t.equal(await s.run('stop', 'llama3.2:3b'), 0)
  await sleep(5500)
  const status = memtrace(['status', '--dir', trace])
  t.equal(status.code, 0)
  t.match(status.stdout, /running in .*\n  pid \d+, up \d+ s/)
  t.match(status.stdout, /missed ticks: 0 process, 0 system/)
  t.match(status.stdout, /last error: none/)
  const stopped = memtrace(['stop', '--dir', trace])
  t.equal(stopped.code, 0, stopped.stderr)
  const { proc, sys } = traceFiles(trace)
  const log = read(sys)
  t.match(log, /memtrace runner \{[^}]*"model":"llama3\.2:3b"/, 'runner named from the manifests')
  t.match(log, /memtrace runner \{[^}]*"model":"qwen2\.5-coder:7b"/)
  t.match(log, /NAME\s+ID\s+SIZE\s+PROCESSOR\s+CONTEXT\s+UNTIL/, 'ollama ps, asked because /api/ps answered')
  t.match(log, /\{"models":\[/)
  t.match(read(proc), /llama-server --model \S+\/blobs\/sha256-/, 'runners traced though their name says neither ollama nor runner')
  const out = join(s.dir, 'chart.svg')
  const report = join(s.dir, 'report.md')
  const r = memtrace(['render', proc, sys, out, '--tz', 'UTC', '--report', report])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '', 'a clean trace: nothing skipped')
  const svg = readFileSync(out, 'utf8')
  t.match(svg, /class="rss-line"[^>]*data-role="runner"[^>]*data-model="llama3\.2:3b"/)
  t.match(svg, /class="rss-line"[^>]*data-role="runner"[^>]*data-model="qwen2\.5-coder:7b"/)
  t.match(svg, /class="runner-overlap"/, 'both runners alive at once is shown')
  t.notOk(/data-model="sha256-/.test(svg), 'no runner left unnamed')
  t.match(svg, /<g class="marker" data-ts="[^"]+">.*switch to qwen2\.5-coder:7b<\/text><\/g>/, 'the marker is drawn')
  // Memory stayed ample, so the overlap is said in the report, not as a finding. Runners of other tests' stand-ins may be named beside ours.
  const md = readFileSync(report, 'utf8')
  t.match(md, /^Runners alive together while memory stayed ample.*runner PID \d+ for llama3\.2:3b (?:and .*?)?(?:was|were) still alive while runner PID \d+ for qwen2\.5-coder:7b started/m, 'and said')
  t.match(md, /### Markers\n\n- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: switch to qwen2\.5-coder:7b/)
  t.match(md, /\| llama3\.2:3b \| \d+ \|/)
})

t.test('a second start says who is tracing and starts nothing; stop waits for the exit', async t => {
  const dir = t.testdir({})
  const a = memtrace(['start', '--dir', dir, '--ollama-url', 'http://127.0.0.1:1'])
  t.equal(a.code, 0, a.stderr)
  const pid = Number(/pid (\d+)/.exec(a.stdout)?.[1])
  const b = memtrace(['start', '--dir', dir])
  t.equal(b.code, 3)
  t.match(b.stderr, new RegExp(`already tracing there \\(pid ${pid}, since .*\\)\\n  .*\\.tsv\\n  .*\\.log`))
  const stop = memtrace(['stop', '--dir', dir])
  t.equal(stop.code, 0)
  t.ok(gone(pid), 'the daemon is gone when stop returns')
  t.equal(memtrace(['stop', '--dir', dir]).code, 1, 'nothing to stop')
  const st = memtrace(['status', '--dir', dir])
  t.equal(st.code, 1)
  t.match(st.stdout, /^not running in /)
})

t.test('a stale lock from a crashed daemon is taken over', async t => {
  const dir = t.testdir({})
  const dead = spawn(process.execPath, ['-e', '0'])
  await new Promise(r => dead.once('exit', r))
  const lock = { pid: dead.pid, startedAt: '2026-01-01T00:00:00Z', procFile: 'x', systemFile: 'y', logFile: 'z' }
  const { writeFileSync } = await import('node:fs')
  writeFileSync(join(dir, 'memtrace.lock'), JSON.stringify(lock))
  t.match(memtrace(['status', '--dir', dir]).stdout, /stale lock of pid/)
  const r = memtrace(['start', '--dir', dir, '--ollama-url', 'http://127.0.0.1:1'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, new RegExp(`took over a stale lock: its daemon, pid ${dead.pid}, is gone`))
  t.equal(memtrace(['stop', '--dir', dir]).code, 0)
})

t.test('a mark made just before the stop is in the trace: a last block carries it', async t => {
  const dir = join(t.testdir({}), 'trace')
  t.equal(memtrace(['start', '--dir', dir, '--ollama-url', 'http://127.0.0.1:1', '--system-interval', '50m']).code, 0)
  t.equal(memtrace(['mark', '--dir', dir, 'the last step']).code, 0)
  t.equal(memtrace(['stop', '--dir', dir]).code, 0)
  const log = read(traceFiles(dir).sys)
  t.match(log, /memtrace marker \{"ts":"[^"]+","text":"the last step"\}\n\n$/, 'the marker, in the last block, never read by a tick')
})

t.test('mark without a daemon says so', async t => {
  const dir = t.testdir({})
  const r = memtrace(['mark', '--dir', dir, 'hello'])
  t.equal(r.code, 1)
  t.match(r.stderr, /no memtrace daemon is tracing into/)
})

t.test('memtrace run: traces while a command runs, renders, exits with its status', async t => {
  const s = await standin(t)
  const trace = join(s.dir, 'run')
  const r = memtrace(['run', '--dir', trace, '--ollama-url', s.url, '--', 'sh', '-c', 'ollama run llama3.2:3b hi >/dev/null; sleep 6; exit 7'], s.env)
  t.equal(r.code, 7, r.stderr)
  t.equal(r.stderr, '', 'nothing went wrong')
  t.match(r.stdout, /^memtrace: tracing into .* while sh -c/)
  t.match(r.stdout, /wrote .*memtrace-\d{8}-\d{6}\.svg: /)
  t.match(r.stdout, /wrote .*memtrace-\d{8}-\d{6}\.md/)
  const { readdirSync } = await import('node:fs')
  const files = readdirSync(trace)
  const svg = files.find(f => /^memtrace-.*\.svg$/.test(f))
  t.ok(svg && files.some(f => /^memtrace-.*\.md$/.test(f)), files.join(' '))
  t.match(readFileSync(join(trace, svg as string), 'utf8'), /data-model="llama3\.2:3b"/)
  t.equal(memtrace(['status', '--dir', trace]).code, 1, 'the daemon is stopped afterwards')
})

t.test('memtrace run on Ctrl-C: the command stops, tracing stops, the chart is rendered', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'run')
  const { BIN } = await import('../helpers.js')
  // Its own process group, as a terminal gives it: Ctrl-C sends SIGINT to the whole group.
  const child = spawn(process.execPath, [BIN, 'run', '--dir', trace, '--ollama-url', 'http://127.0.0.1:1', '--', 'sleep', '30'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => (out += d))
  await until(() => out.includes('tracing into') || undefined, 10_000, 'memtrace run to start')
  await sleep(2500)
  process.kill(-(child.pid as number), 'SIGINT')
  const code = await new Promise<number | null>(r => child.once('exit', c => r(c)))
  t.equal(code, 130, 'the status of a command ended by SIGINT')
  t.match(out, /wrote .*memtrace-\d{8}-\d{6}\.svg/)
  t.equal(memtrace(['status', '--dir', trace]).code, 1, 'the daemon is stopped')
})
