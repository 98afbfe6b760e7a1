import t from 'tap'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, exited, foreground, gone, memtrace, sleep, until } from './helpers.js'

const SLOW = ['--interval', '60m', '--system-interval', '60m', '--ollama-url', 'http://127.0.0.1:1']

/** Resolves once the foreground daemon says it traces (true) or exits (false). */
function settled(d: ChildProcess): Promise<boolean> {
  return new Promise(ok => {
    let out = ''
    d.stdout?.on('data', c => {
      out += c
      if (out.includes('tracing into')) ok(true)
    })
    d.once('exit', () => ok(false))
  })
}

t.test('two starts at the same instant: exactly one daemon, and it holds the lock (50 rounds)', async t => {
  const dir = t.testdir({})
  let bad = 0
  const race = async (round: number) => {
    const trace = join(dir, String(round))
    const pair = [foreground(['--dir', trace, ...SLOW]), foreground(['--dir', trace, ...SLOW])]
    const up = await Promise.all(pair.map(settled))
    const live = pair.filter((d, i) => up[i] && d.exitCode === null)
    let holder: number | undefined
    try {
      holder = (JSON.parse(readFileSync(join(trace, 'memtrace.lock'), 'utf8')) as { pid: number }).pid
    } catch {
      holder = undefined
    }
    if (live.length !== 1 || holder !== live[0]?.pid) {
      bad++
      t.fail(`round ${round}: ${live.length} daemons running, lock held by ${holder}`)
    }
    // Killed outright: a clean stop is tested elsewhere, and each round has its own directory.
    for (const d of pair) d.kill('SIGKILL')
    await Promise.all(pair.map(exited))
  }
  // Five rounds at a time, each in its own directory: the same 50 races, both cores busy with them.
  for (let round = 0; round < 50; round += 5) await Promise.all([0, 1, 2, 3, 4].map(i => race(round + i)))
  t.equal(bad, 0, 'one daemon in every round')
})

t.test('a lock another starter is still writing is never deleted', async t => {
  // What a starter between creating the lock and writing it leaves: an empty file.
  const dir = t.testdir({ 'memtrace.lock': '' })
  const r = memtrace(['start', '--dir', dir, ...SLOW])
  t.teardown(() => memtrace(['stop', '--dir', dir]))
  t.not(r.code, 0, r.stdout)
  t.match(r.stderr, /memtrace\.lock is not a memtrace lock/)
  t.equal(readFileSync(join(dir, 'memtrace.lock'), 'utf8'), '', 'left as it was')
})

t.test('stop never signals a process that is not the daemon', async t => {
  const dir = t.testdir({ 'memtrace.log': 'x\n' })
  const tail = spawn('tail', ['-f', join(dir, 'memtrace.log')], { stdio: 'ignore' })
  t.teardown(() => tail.kill())
  // A lock left by a daemon that crashed, whose PID now belongs to the tail.
  writeFileSync(join(dir, 'memtrace.lock'), JSON.stringify({ pid: tail.pid, pidStart: '1', startedAt: '2026-01-01T00:00:00Z', procFile: 'x', systemFile: 'y', logFile: 'z' }))
  const r = memtrace(['stop', '--dir', dir])
  t.equal(r.code, 1, r.stdout)
  t.match(r.stderr, /no memtrace daemon is tracing into/)
  t.notOk(gone(tail.pid as number), 'the tail is still running')
  t.equal(memtrace(['status', '--dir', dir]).code, 1, 'status does not take the tail for the daemon')
  const s = memtrace(['start', '--dir', dir, ...SLOW])
  t.equal(s.code, 0, s.stderr)
  t.match(s.stdout, `took over a stale lock: its daemon, pid ${tail.pid}, is gone (that pid is free or now another process)`)
  t.equal(memtrace(['stop', '--dir', dir]).code, 0)
  t.notOk(gone(tail.pid as number), 'the tail is still running')
})

/** `memtrace run` in its own process group, as a terminal runs it; Ctrl-C goes to the group. */
function run(trace: string) {
  const child = spawn(process.execPath, [BIN, 'run', '--dir', trace, ...SLOW, '--', 'sleep', '30'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => (out += d))
  child.stderr.on('data', d => (out += d))
  const ctrlC = () => process.kill(-(child.pid as number), 'SIGINT')
  return { child, ctrlC, out: () => out }
}

/** `memtrace run` tracing into `trace`, given Ctrl-C twice in quick succession once it traces. */
async function runAndPressTwice(trace: string) {
  const r = run(trace)
  await until(() => r.out().includes('tracing into') || undefined, 10_000, 'memtrace run to start')
  r.ctrlC()
  await sleep(30)
  r.ctrlC()
  return r
}

t.test('memtrace run, Ctrl-C twice: tracing stops and the chart is drawn', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'run')
  const r = await runAndPressTwice(trace)
  const ex = await exited(r.child)
  t.equal(ex.code, 130, r.out())
  t.equal(memtrace(['status', '--dir', trace]).code, 1, 'the daemon is stopped')
  t.notOk(existsSync(join(trace, 'memtrace.lock')), 'its lock is released')
  t.match(r.out(), /wrote .*memtrace-\d{8}-\d{6}\.svg/)
})

t.test('memtrace run, Ctrl-C three times: tracing stops, no chart', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'run')
  const r = await runAndPressTwice(trace)
  await until(() => r.out().includes('Ctrl-C again') || undefined, 10_000, 'the offer to skip the chart')
  r.ctrlC()
  await exited(r.child)
  t.equal(memtrace(['status', '--dir', trace]).code, 1, 'the daemon is stopped')
  t.notOk(existsSync(join(trace, 'memtrace.lock')), 'its lock is released')
  t.notMatch(r.out(), /\.svg/)
})
