import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readLock } from '../lock.js'
import { gone, memtrace, read, traceFiles, until } from './helpers.js'
import { models, windowsHost } from './windows-host.js'

/** The simulated Windows host of windows.e2e.test.ts, with its programs failing or slow. */
t.test('a PowerShell or typeperf that dies is started again, and said; the listing goes on', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  const home = join(dir, 'home')
  models(home)
  // Each dies once, after its first answer or row.
  writeFileSync(join(dir, 'powershell-dies'), '')
  writeFileSync(join(dir, 'typeperf-dies'), '')
  const env = { ...host.env, HOME: home, USERPROFILE: home, LOCALAPPDATA: join(home, 'AppData', 'Local') }
  const trace = join(dir, 'trace')
  t.equal(memtrace(['start', '--dir', trace, '--ollama-url', 'http://127.0.0.1:1', '--interval', '500ms', '--system-interval', '1s'], env).code, 0)
  const pid = readLock(trace)?.pid as number
  t.teardown(() => {
    if (!gone(pid)) process.kill(pid, 'SIGKILL')
  })
  const { proc, sys } = traceFiles(trace)
  // The restarts wait 5 s after the first starts: rows of the runner after that, and the counters again.
  await until(() => read(host.calls).match(/^powershell\.exe listing /gm)?.length === 2 && read(host.calls).match(/^typeperf\.exe /gm)?.length === 2, 15_000, 'both started again')
  const rowsBefore = read(proc).split('\n').length
  await until(() => read(proc).split('\n').length > rowsBefore + 3 && /Committed Bytes[^\n]*\n"11\/30\/2026[^\n]*\n\n[^]*$/.test(read(sys)), 10_000, 'rows and counters again')
  t.equal(memtrace(['stop', '--dir', trace], env).code, 0)
  await until(() => gone(pid), 5000, 'the daemon to exit')
  const log = read(sys)
  t.match(log, /memtrace source-error \{[^\n]*"source":"processes","message":"powershell\.exe \(the process listing\) exited \(status 1\)/, 'the dead PowerShell said')
  t.match(log, /memtrace source-error \{[^\n]*"source":"system","message":"typeperf exited \(status 1\); started again"/, 'the dead typeperf said')
  for (const p of read(host.listers).trim().split('\n')) t.ok(gone(Number(p)), 'no PowerShell left behind')
})

t.test('a PowerShell slow to give its first answer is waited for: the ticks go on, and it is not ended', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  writeFileSync(join(dir, 'slow-start'), '')
  const home = join(dir, 'home')
  models(home)
  const env = { ...host.env, HOME: home, USERPROFILE: home }
  const trace = join(dir, 'trace')
  t.equal(memtrace(['start', '--dir', trace, '--ollama-url', 'http://127.0.0.1:1'], env).code, 0)
  const pid = readLock(trace)?.pid as number
  t.teardown(() => {
    if (!gone(pid)) process.kill(pid, 'SIGKILL')
  })
  const { proc } = traceFiles(trace)
  await until(() => read(proc).includes('\t14520\t'), 15_000, 'rows, after the first answer')
  t.equal(memtrace(['stop', '--dir', trace], env).code, 0)
  await until(() => gone(pid), 5000, 'the daemon to exit')
  t.equal(read(host.calls).match(/^powershell\.exe listing /gm)?.length, 1, 'the same PowerShell throughout')
  const status = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { missedTicks: { process: number; system: number }; lastError?: unknown }
  t.same(status.missedTicks, { process: 0, system: 0 }, 'no tick missed while it started')
  t.notMatch(read(traceFiles(trace).sys), /"source":"processes"/, 'nothing said of it')
})
