import t from 'tap'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { psStart } from '../lock.js'
import { exited, foreground, memtrace, read, sleep, ROOT, traceFiles } from './helpers.js'

const FIXTURES = join(ROOT, 'daemon', 'test', 'fixtures', 'macos')

/**
 * macOS cannot run here, so its commands are executables on PATH that print
 * what the real ones print (fixtures/macos/), and MEMTRACE_PLATFORM=darwin
 * makes the daemon take its macOS path: the same code a Mac runs.
 */
function macCommands(dir: string): NodeJS.ProcessEnv {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  const calls = join(dir, 'calls')
  const cmd = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\n${body}\n`)
    chmodSync(join(bin, name), 0o755)
  }
  cmd('ps', `[ "$1 $2" = "-axo pid=,ppid=,comm=,rss=,vsz=,command=" ] || exit 2\ncat '${FIXTURES}/ps.txt'`)
  cmd('vm_stat', `cat '${FIXTURES}/vm_stat.txt'`)
  cmd('memory_pressure', `cat '${FIXTURES}/memory_pressure.txt'`)
  cmd('sysctl', `cat '${FIXTURES}/sysctl.txt'`)
  return { PATH: `${bin}:${process.env.PATH}`, MEMTRACE_PLATFORM: 'darwin' }
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
  t.match(calls, /^ps -axo pid=,ppid=,comm=,rss=,vsz=,command=$/m)
  t.match(calls, /^vm_stat $/m)
  t.match(calls, /^memory_pressure $/m)
  t.match(calls, /^sysctl vm\.swapusage hw\.memsize$/m)
  const { proc, sys } = traceFiles(trace)
  const rows = read(proc).trim().split('\n').slice(1)
  const pids = [...new Set(rows.map(r => r.split('\t')[1]))].sort()
  t.same(pids, ['4412', '4420', '812'], 'the server, its runner (a llama-server), the placeholder; not the menu-bar app (the seed pattern is case-sensitive), Safari or launchd')
  t.match(rows.find(r => r.split('\t')[1] === '4412'), /\t812\t\/Applications\/Ollama\.app\/Contents\/Resources\/llama-server\t5862400\t450887680\t\/Applications\/Ollama\.app\/Contents\/Resources\/llama-server --model /)
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
  const path = process.env.PATH
  process.env.PATH = `${bin}:${path}`
  t.teardown(() => {
    process.env.PATH = path
  })
  t.equal(psStart(4412), 'Wed Feb 5 14:03:12 2026')
  t.equal(psStart(4413), undefined, 'no such process')
  t.match(read(calls), /^-o lstart= -p 4412 C UTC$/m, 'every user reads the same text, whatever their locale and zone')
})
