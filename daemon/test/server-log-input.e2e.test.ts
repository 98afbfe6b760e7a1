/**
 * Bad input to the server-log follower, through the real daemon: a command
 * that hangs or ends at once, a log removed and made again, binary garbage.
 * (Huge lines, a huge log and absurd figures: server-log-size.e2e.test.ts.)
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deadUrl, exited, foreground, gone, memtrace, read, sleep, traceFiles, until } from './helpers.js'

const FAST = ['--interval', '1s', '--system-interval', '1s']
let DEAD = ''
t.before(async () => {
  DEAD = await deadUrl()
})

const serverLogOf = (dir: string) => {
  const name = readdirSync(dir).find(f => /^ollama-server-memtrace-.*\.log$/.test(f))
  return name ? read(join(dir, name)) : ''
}
const memoryLine = (free: string) => `time=2026-01-01T00:00:00Z level=INFO source=sched.go:1 msg="system memory" total="31.3 GiB" free="${free} GiB" free_swap="0 B"\n`

/** PIDs whose command line is exactly `args`, from /proc. */
function pidsRunning(args: string[]): number[] {
  const want = `${args.join('\0')}\0`
  const found: number[] = []
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue
    try {
      if (readFileSync(`/proc/${n}/cmdline`, 'latin1') === want && !gone(Number(n))) found.push(Number(n))
    } catch {
      // gone
    }
  }
  return found
}

const serverLogErrors = (sys: string) => sys.match(/memtrace source-error \{[^\n]*"source":"server-log"[^\n]*/g) ?? []

t.test('a log command that never prints and ignores SIGTERM: ticks go on, stop returns and the command is killed', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  // A number no other test uses, to find the command's process.
  const marker = String(400000 + (process.pid % 90000))
  const start = memtrace(['start', '--dir', trace, '--ollama-url', DEAD, ...FAST, '--server-log-cmd', `trap '' TERM; sleep ${marker}; :`])
  t.equal(start.code, 0, start.stderr)
  t.teardown(() => {
    memtrace(['stop', '--dir', trace])
    for (const pid of pidsRunning(['sleep', marker])) process.kill(pid, 'SIGKILL')
  })
  const [sleeper] = await until(() => {
    const p = pidsRunning(['sleep', marker])
    return p.length ? p : undefined
  }, 10_000, 'the log command running')
  await sleep(3000)
  // memtrace stop exits 2 when the daemon has not stopped within 5 s: 0 says it did.
  const stop = memtrace(['stop', '--dir', trace])
  t.equal(stop.code, 0, stop.stderr)
  t.ok(gone(sleeper as number), 'the command, which ignores SIGTERM, was killed with its shell')
  t.same(pidsRunning(['sleep', marker]), [], 'nothing of it is left')
  const status = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { processSamples: number; systemSamples: number; missedTicks: { process: number; system: number } }
  t.ok(status.processSamples >= 3 && status.systemSamples >= 3, `ticks went on: ${status.processSamples} process, ${status.systemSamples} system samples`)
  t.same(status.missedTicks, { process: 0, system: 0 }, 'none missed')
  t.same(serverLogErrors(read(traceFiles(trace).sys)), [], 'a command ended by the stop is no error')
})

t.test('a log command that exits at once: said once, as a source-error, and by status; the traces go on', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST, '--server-log-cmd', 'exit 3'])
  t.teardown(() => void d.kill('SIGKILL'))
  await sleep(3200)
  t.match(memtrace(['status', '--dir', trace]).stdout, /server log: the server log command exit 3 ended \(exit status 3\); the server's log is no longer followed/)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const sys = read(traceFiles(trace).sys)
  const errors = serverLogErrors(sys)
  t.equal(errors.length, 1, 'said once')
  t.match(errors[0], /ended \(exit status 3\)/)
  t.ok(sys.split('\n').filter(l => l.startsWith('=====')).length >= 3, 'system samples still written')
})

t.test('a log removed while followed, then made again: the old lines, then the new file from its start', async t => {
  const dir = t.testdir({ 'server.log': '' })
  const log = join(dir, 'server.log')
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST, '--server-log', log])
  t.teardown(() => void d.kill('SIGKILL'))
  await sleep(1200)
  appendFileSync(log, memoryLine('11.1'))
  await sleep(1500)
  // Written and removed between two polls: read from the file still open.
  appendFileSync(log, memoryLine('12.2'))
  rmSync(log)
  await sleep(2500)
  writeFileSync(log, memoryLine('13.3'))
  await sleep(1500)
  appendFileSync(log, memoryLine('14.4'))
  await sleep(1500)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const kept = serverLogOf(trace)
  t.same(kept.match(/free="[\d.]+ GiB"/g), ['free="11.1 GiB"', 'free="12.2 GiB"', 'free="13.3 GiB"', 'free="14.4 GiB"'], 'each line once, in order')
  const status = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { missedTicks: { process: number; system: number } }
  t.same(status.missedTicks, { process: 0, system: 0 })
})

t.test('binary garbage in the log: nothing kept of it, nothing crashes, the next memory line is kept', async t => {
  const dir = t.testdir({ 'server.log': '' })
  const log = join(dir, 'server.log')
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST, '--server-log', log])
  t.teardown(() => void d.kill('SIGKILL'))
  await sleep(1200)
  // 2 MiB of bytes from a fixed generator: NULs, newlines, invalid UTF-8, escapes, lone surrogates' bytes.
  const garbage = Buffer.alloc(2 << 20)
  let x = 0x2545f491
  for (let i = 0; i < garbage.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    garbage[i] = x & 0xff
  }
  appendFileSync(log, garbage)
  appendFileSync(log, `\n${memoryLine('9.9')}`)
  await until(() => (serverLogOf(trace).includes('9.9 GiB') ? true : undefined), 10_000, 'the memory line after the garbage')
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  t.equal(serverLogOf(trace), memoryLine('9.9'), 'only the memory line')
})

t.test('a FIFO given as the server log: the daemon starts and samples instead of waiting for a writer, and says why the log is not read', async t => {
  // The stop is registered before the folder: tap removes a test folder before later teardowns run.
  t.teardown(() => void memtrace(['stop', '--dir', join(t.testdirName, 'trace')]))
  const dir = t.testdir({})
  const fifo = join(dir, 'server.log')
  execFileSync('mkfifo', [fifo])
  const trace = join(dir, 'trace')
  const start = memtrace(['start', '--dir', trace, '--ollama-url', DEAD, ...FAST, '--server-log', fifo])
  // Opening a FIFO for reading waits for a writer: the daemon never reported, and start gave up after 10 s with 2.
  t.equal(start.code, 0, start.stderr)
  await until(() => (/samples: [3-9]\d* process/.test(memtrace(['status', '--dir', trace]).stdout) ? true : undefined), 10_000, 'three process samples')
  t.match(memtrace(['status', '--dir', trace]).stdout, /server log: the server log \S+ is a FIFO, not a regular file; give a log file with memtrace start --server-log PATH/)
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
  const errors = serverLogErrors(read(traceFiles(trace).sys))
  t.equal(errors.length, 1, 'said once in the trace')
  t.match(errors[0], /is a FIFO, not a regular file/)
})
