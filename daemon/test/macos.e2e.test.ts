import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { psStart } from '../lock.js'
import { PLACEHOLDER_MIN_SAMPLES } from '../../core/model/trace.js'
import { appCli, exited, foreground, memtrace, read, sleep, ROOT, traceFiles, until } from './helpers.js'

const FIXTURES = join(ROOT, 'daemon', 'test', 'fixtures', 'macos')

/**
 * macOS cannot run here, so its commands are executables that print what
 * the real ones print (fixtures/macos/), in MEMTRACE_MACOS_BIN, which
 * replaces /bin/ps, /usr/bin/vm_stat, /usr/bin/memory_pressure and
 * /usr/sbin/sysctl; MEMTRACE_PLATFORM=darwin makes the daemon take its macOS
 * path: the same code a Mac runs. `ps -o command= -p PID` (the lock's check)
 * is answered by this machine's ps, which prints the same field.
 */
function macCommands(dir: string): NodeJS.ProcessEnv {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  const calls = join(dir, 'calls')
  const cmd = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "$0 $*" >> '${calls}'\n${body}\n`)
    chmodSync(join(bin, name), 0o755)
  }
  // Every live process started, as this ps says, in one second: only the command can tell the holder.
  cmd('ps', `case "$1 $2" in\n"-axo pid=,ppid=,comm=,rss=,vsz=,command=") cat '${FIXTURES}/ps.txt' ;;\n"-o lstart=") kill -0 "$4" 2>/dev/null || exit 1; echo 'Wed Feb  5 14:03:12 2026' ;;\n*) exec /bin/ps "$@" ;;\nesac`)
  cmd('vm_stat', `cat '${FIXTURES}/vm_stat.txt'`)
  cmd('memory_pressure', `cat '${FIXTURES}/memory_pressure.txt'`)
  cmd('sysctl', `case "$1" in\nkern.memorystatus_vm_pressure_level) cat '${FIXTURES}/sysctl-pressure-level.txt' ;;\n*) cat '${FIXTURES}/sysctl.txt' ;;\nesac`)
  // Decoys on PATH: Apple's commands are run by their full paths, never found on PATH.
  const decoys = join(dir, 'path')
  mkdirSync(decoys, { recursive: true })
  for (const name of ['ps', 'vm_stat', 'memory_pressure', 'sysctl']) {
    writeFileSync(join(decoys, name), `#!/bin/sh\necho "decoy $0 $*" >> '${calls}'\nexit 3\n`)
    chmodSync(join(decoys, name), 0o755)
  }
  return { PATH: `${decoys}:${process.env.PATH}`, MEMTRACE_PLATFORM: 'darwin', MEMTRACE_MACOS_BIN: bin }
}

t.test('the macOS path: ps and the memory commands, as the seed runs them', async t => {
  const dir = t.testdir({})
  const env = macCommands(dir)
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', 'http://127.0.0.1:1', '--interval', '500ms', '--system-interval', '1s'], env)
  await sleep(2600)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const calls = read(join(dir, 'calls'))
  const bin = join(dir, 'bin')
  t.ok(calls.includes(`${bin}/ps -axo pid=,ppid=,comm=,rss=,vsz=,command=\n`), 'ps by its full path')
  t.ok(calls.includes(`${bin}/vm_stat \n`))
  t.ok(calls.includes(`${bin}/memory_pressure \n`))
  t.ok(calls.includes(`${bin}/sysctl vm.swapusage hw.memsize\n`))
  t.ok(calls.includes(`${bin}/sysctl kern.memorystatus_vm_pressure_level\n`), 'the pressure level, asked apart')
  t.notMatch(calls, /^decoy /m, 'nothing on PATH answers in their place')
  t.ok(calls.includes(`${bin}/ps -o lstart= -p ${d.pid}\n`), "the lock's start time is the macOS one, from ps, though this machine has /proc")
  const { proc, sys } = traceFiles(trace)
  t.match(read(sys), /^kern\.memorystatus_vm_pressure_level: 1$/m, 'the level kept in the trace')
  const rows = read(proc).trim().split('\n').slice(1)
  const pids = [...new Set(rows.map(r => r.split('\t')[1]))].sort()
  t.same(pids, ['4412', '4420', '812'], 'the server, its runner (a llama-server), the placeholder; not the menu-bar app (the seed pattern is case-sensitive), Safari or launchd')
  t.match(rows.find(r => r.split('\t')[1] === '4412'), /\t812\t\/Applications\/Ol\t5862400\t450887680\t\/Applications\/Ollama\.app\/Contents\/Resources\/llama-server --model /, "comm as Apple's ps cuts it; the command whole")
  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', proc, sys, out, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  const svg = readFileSync(out, 'utf8')
  for (const s of ['wired', 'compressor', 'swap-used', 'free', 'free-pct']) t.match(svg, `data-series="${s}"`)
  t.match(svg, /32\.0 GiB host/)
})

t.test('the lock holder on macOS: the start time from ps -o lstart=, in a fixed locale and zone', async t => {
  const dir = t.testdir({})
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  const calls = join(dir, 'calls')
  // As macOS ps prints it: the day padded to two places; nothing, and status 1, for no such process.
  writeFileSync(
    join(bin, 'ps'),
    `#!/bin/sh\necho "$* $LC_ALL $TZ" >> '${calls}'\n[ "$1 $2 $3" = "-o lstart= -p" ] || exit 2\n[ "$4" = 4412 ] && echo 'Wed Feb  5 14:03:12 2026' && exit 0\nexit 1\n`,
  )
  chmodSync(join(bin, 'ps'), 0o755)
  const before = process.env.MEMTRACE_MACOS_BIN
  process.env.MEMTRACE_MACOS_BIN = bin
  t.teardown(() => {
    if (before === undefined) delete process.env.MEMTRACE_MACOS_BIN
    else process.env.MEMTRACE_MACOS_BIN = before
  })
  t.equal(psStart(4412), 'Wed Feb 5 14:03:12 2026')
  t.equal(psStart(4413), undefined, 'no such process')
  t.match(read(calls), /^-o lstart= -p 4412 C UTC$/m, 'every user reads the same text, whatever their locale and zone')
})

t.test('a lock naming a live process that is not memtrace is stale on macOS, even with the same start time', async t => {
  const dir = t.testdir({})
  const env = macCommands(dir)
  // Another program now holds the PID the lock names, started in the same second as the lock says (ps gives seconds only).
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' })
  t.teardown(() => stranger.kill())
  await sleep(100)
  const start = 'Wed Feb 5 14:03:12 2026'
  const trace = join(dir, 'trace')
  mkdirSync(trace, { recursive: true, mode: 0o700 })
  writeFileSync(join(trace, 'memtrace.lock'), JSON.stringify({ pid: stranger.pid, pidStart: start, startedAt: '2026-11-23T08:00:00Z', procFile: join(trace, 'a.tsv'), systemFile: join(trace, 'a.log'), logFile: join(trace, 'memtrace.log') }))
  const status = memtrace(['status', '--dir', trace], env)
  t.equal(status.code, 1)
  t.match(status.stdout, /^not running in .*a stale lock of pid \d+ is left/, 'not the holder: its command is not memtrace')
  const stop = memtrace(['stop', '--dir', trace], env)
  t.equal(stop.code, 1)
  t.equal(stranger.exitCode, null, 'stop did not signal the stranger')
  await sleep(100)
  t.equal(stranger.signalCode, null)
  const started = memtrace(['start', '--dir', trace, '--ollama-url', 'http://127.0.0.1:1'], env)
  t.equal(started.code, 0, started.stderr)
  t.match(started.stdout, /took over a stale lock/)
  const stopped = memtrace(['stop', '--dir', trace], env)
  t.equal(stopped.code, 0, `its own daemon it stops: ${stopped.stderr}`)
})

t.test('Ollama run as root: "(ollama)" and "(llama-server)" are traced as server and runner, named from /api/ps, and said once', async t => {
  const dir = t.testdir({})
  const env = macCommands(dir)
  const bin = env.MEMTRACE_MACOS_BIN as string
  // Apple's ps for a user: root's processes without arguments; a short-lived "(ollama)" (a process starting) in one listing only.
  const n = join(dir, 'n')
  writeFileSync(
    join(bin, 'ps'),
    `#!/bin/sh\ncase "$1 $2" in\n"-axo pid=,ppid=,comm=,rss=,vsz=,command=") c=$(cat '${n}' 2>/dev/null || echo 0); echo $((c + 1)) > '${n}'\n  cat '${FIXTURES}/ps-root.txt'\n  [ "$c" = 2 ] && echo ' 4420   812 ollama             1184 34567890 (ollama)'\n  exit 0 ;;\n"-o lstart=") kill -0 "$4" 2>/dev/null || exit 1; echo 'Wed Feb  5 14:03:12 2026' ;;\n*) exec /bin/ps "$@" ;;\nesac\n`,
  )
  const api = createServer((_q, r) => r.end(JSON.stringify({ models: [{ name: 'qwen3-coder:30b', model: 'qwen3-coder:30b', size: 19_362_478_080, size_vram: 19_362_478_080, digest: 'ab'.repeat(32), context_length: 4096, expires_at: '2026-02-25T14:08:12Z' }] })))
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  t.teardown(() => api.close())
  const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', url, '--interval', '500ms', '--system-interval', '1s'], env)
  await sleep(4000)
  // On a busy machine the daemon may need longer for its first samples: status is asked until it says it, up to 20 s.
  const said = /last error: .*the arguments of Ollama's processes cannot be read .*sudo memtrace start would read them/
  const status = await until(() => {
    const r = memtrace(['status', '--dir', trace], env)
    return said.test(r.stdout) ? r : undefined
  }, 20_000, 'status to say it').catch(() => memtrace(['status', '--dir', trace], env))
  t.match(status.stdout, said, 'status says it')
  // The renderer leaves out a "(ollama)" seen in fewer than five samples (a process starting): on a busy machine, wait for them.
  // Samples are times to the second: at a 500 ms interval two rows may share one, and the renderer counts times.
  const samplesOf4412 = () => (existsSync(trace) ? new Set(read(traceFiles(trace).proc).match(/^[^\t\n]+(?=\t4412\t812\t)/gm)).size : 0)
  await until(() => samplesOf4412() >= PLACEHOLDER_MIN_SAMPLES + 1 || undefined, 20_000, 'samples of the runner')
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const { proc, sys } = traceFiles(trace)
  const log = read(sys)
  t.equal((log.match(/memtrace source-error \{[^\n]*"source":"ps"[^\n]*cannot be read/g) ?? []).length, 1, 'one source-error, not one a sample')
  t.ok(read(proc).includes('\t4412\t812\tllama-server\t5862400\t450887680\t(llama-server)\n'), 'the runner is traced: the child of "(ollama)"')
  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', proc, sys, out, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  const svg = readFileSync(out, 'utf8')
  t.match(svg, /class="rss-line"[^>]*data-role="runner"[^>]*data-model="qwen3-coder:30b"/, 'named by what /api/ps listed in its time and size')
  t.match(svg, /class="rss-line"[^>]*data-role="server"/, '"(ollama)" with children is the server')
  t.notMatch(svg, /data-pid="4420"/, 'the short-lived placeholder is left out, as seed 002 has it')
})

t.test('a Mac with the app as "Ollama 2.app", its own models folder and the CLI linked into it', async t => {
  const dir = t.testdir({})
  const env = macCommands(dir)
  const bin = env.MEMTRACE_MACOS_BIN as string
  // The models where the app put them: no OLLAMA_MODELS, not under HOME.
  const { installStandin } = await import('../../standin/install.js')
  const { ollama } = installStandin(join(dir, 'standin'))
  const models = join(dir, 'Volumes-External', 'ollama-models')
  spawnSync(ollama, ['pull', 'qwen3-coder:30b'], { env: { ...process.env, OLLAMA_MODELS: models } })
  const manifest = JSON.parse(readFileSync(join(models, 'manifests', 'registry.ollama.ai', 'library', 'qwen3-coder', '30b'), 'utf8')) as { layers: { mediaType: string; digest: string }[] }
  const blob = join(models, 'blobs', (manifest.layers.find(l => l.mediaType === 'application/vnd.ollama.image.model') as { digest: string }).digest.replace(':', '-'))
  const res = '/Applications/Ollama 2.app/Contents/Resources'
  const rows = [
    [812, 1, `${res}/ollama`, 61234, 412345678, `${res}/ollama serve`],
    [4412, 812, `${res}/ollama`, 5862400, 450887680, `${res}/ollama runner --ollama-engine --model ${blob} --port 51234`],
  ]
  writeFileSync(join(dir, 'ps-app2.txt'), rows.map(([pid, ppid, comm, rss, vsz, cmd]) => `${String(pid).padStart(5)} ${String(ppid).padStart(5)} ${String(comm).slice(0, 16).padEnd(16)} ${String(rss).padStart(6)} ${String(vsz).padStart(8)} ${cmd}\n`).join(''))
  writeFileSync(join(bin, 'ps'), `#!/bin/sh\ncase "$1 $2" in\n"-axo pid=,ppid=,comm=,rss=,vsz=,command=") cat '${join(dir, 'ps-app2.txt')}' ;;\n"-o lstart=") kill -0 "$4" 2>/dev/null || exit 1; echo 'Wed Feb  5 14:03:12 2026' ;;\n*) exec /bin/ps "$@" ;;\nesac\n`)
  // /usr/local/bin/ollama: the app's link to its CLI.
  const { real, links, calls } = appCli(dir, 'Ollama 2.app')
  const api = createServer((_q, r) => r.end(JSON.stringify({ models: [{ name: 'qwen3-coder:30b', model: 'qwen3-coder:30b', size: 19_362_478_080, size_vram: 19_362_478_080, digest: 'ab'.repeat(32), context_length: 4096, expires_at: '2026-02-25T14:08:12Z' }] })))
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  t.teardown(() => api.close())
  const home = join(dir, 'home')
  mkdirSync(home)
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', `http://127.0.0.1:${(api.address() as { port: number }).port}`, '--interval', '500ms', '--system-interval', '1s'], { ...env, PATH: `${links}:${env.PATH}`, HOME: home, OLLAMA_MODELS: '' })
  await sleep(2600)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const { proc, sys } = traceFiles(trace)
  t.match(read(sys), /memtrace runner \{"ts":"[^"]+","pid":4412,"model":"qwen3-coder:30b"/, 'named from the manifests beside its blob')
  t.same([...new Set(read(calls).trim().split('\n'))], [`${real} ps`], 'ollama ps by its real path, never the link')
  const out = join(dir, 'chart.svg')
  t.equal(memtrace(['render', proc, sys, out, '--tz', 'UTC']).code, 0)
  const svg = readFileSync(out, 'utf8')
  t.match(svg, /class="rss-line"[^>]*data-role="runner"[^>]*data-model="qwen3-coder:30b"/, 'the runner of "Ollama 2.app" is a runner, not "other"')
  t.match(svg, /class="rss-line"[^>]*data-role="server"/)
})
