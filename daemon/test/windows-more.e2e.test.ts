import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readLock } from '../lock.js'
import { gone, memtrace, read, traceFiles, until } from './helpers.js'
import { models, windowsHost } from './windows-host.js'

/** The simulated Windows host of windows.e2e.test.ts: a lock whose PID another process holds, memtrace run, a Windows in another language. */
t.test('the lock on Windows: a live process with the PID but another start time is not the holder', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' })
  t.teardown(() => stranger.kill())
  const trace = join(dir, 'trace')
  mkdirSync(trace, { recursive: true, mode: 0o700 })
  // The stand-in says every live process started at 19:11:40.8281250; the lock says another time.
  writeFileSync(join(trace, 'memtrace.lock'), JSON.stringify({ pid: stranger.pid, pidStart: '2026-11-29T07:02:11.0000000Z', startedAt: '2026-11-29T07:02:11Z', procFile: join(trace, 'a.tsv'), systemFile: join(trace, 'a.log'), logFile: join(trace, 'memtrace.log') }))
  const status = memtrace(['status', '--dir', trace], host.env)
  t.equal(status.code, 1)
  t.match(status.stdout, /^not running in .*a stale lock of pid \d+ is left/)
  t.equal(memtrace(['stop', '--dir', trace], host.env).code, 1, 'nothing to stop')
  t.notOk(existsSync(join(trace, 'memtrace.stop')), 'no stop request left for a daemon that is not there')
  t.match(read(host.calls), new RegExp(`^powershell\\.exe start-time ${stranger.pid}$`, 'm'), 'asked of CIM by PID')
  t.equal(stranger.exitCode, null)
})

t.test('memtrace run on Windows: the command runs under a trace, which is stopped by request and drawn', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  const home = join(dir, 'home')
  models(home)
  const env = { ...host.env, HOME: home, USERPROFILE: home }
  const trace = join(dir, 'trace')
  const r = memtrace(['run', '--dir', trace, '--ollama-url', 'http://127.0.0.1:1', '--interval', '500ms', '--system-interval', '1s', '--', 'sleep', '2.5'], env)
  t.equal(r.code, 0, r.stderr)
  t.notOk(existsSync(join(trace, 'memtrace.lock')), 'the daemon stopped')
  t.match(read(join(trace, 'memtrace.log')), /"reason":"memtrace stop"/, 'by the stop request')
  t.ok(readdirSync(trace).some(n => /^memtrace-.*\.svg$/.test(n)), 'and the chart drawn')
})

t.test('a Windows in another language: typeperf names its counters in German, and the memory comes from systeminfo lines alone', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir, 'typeperf-de.txt')
  const home = join(dir, 'home')
  models(home)
  const env = { ...host.env, HOME: home, USERPROFILE: home }
  const trace = join(dir, 'trace')
  t.equal(memtrace(['start', '--dir', trace, '--ollama-url', 'http://127.0.0.1:1', '--interval', '500ms', '--system-interval', '1s'], env).code, 0)
  const pid = readLock(trace)?.pid as number
  t.teardown(() => {
    if (!gone(pid)) process.kill(pid, 'SIGKILL')
  })
  const { sys } = traceFiles(trace)
  await until(() => (read(sys).match(/^Virtual Memory: In Use: +[\d,]+ MB$/gm)?.length ?? 0) >= 3, 10_000, 'three blocks with the memory')
  t.equal(memtrace(['stop', '--dir', trace], env).code, 0)
  await until(() => gone(pid), 5000, 'the daemon to exit')
  const log = read(sys)
  t.equal(log.match(/"source":"system","message":"typeperf names the counters in this Windows' language/g)?.length, 1, 'said once')
  t.notMatch(log, /PDH-CSV/, 'no counters that render would skip')
  t.match(log, /^Total Physical Memory: +32,561 MB\nAvailable Physical Memory: +23,189 MB\nVirtual Memory: Max Size: +37,426 MB\nVirtual Memory: Available: +25,517 MB\nVirtual Memory: In Use: +11,908 MB$/m, "systeminfo's lines, from Win32_OperatingSystem")
  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', '--dir', trace, '-o', out, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /skipped|not one memtrace reads/, 'nothing skipped')
  const svg = readFileSync(out, 'utf8')
  for (const s of ['commit', 'commit-limit', 'available']) t.match(svg, `data-series="${s}"`)
})
