/**
 * Logs too big to hold, through the real daemon: a single 100 MB line, a
 * 1 GB log present at the start, a flood of memory lines with absurd
 * figures. Memory stays bounded, nothing is read that need not be, and the
 * other two traces lose no tick.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { appendFileSync, closeSync, existsSync, ftruncateSync, openSync, readdirSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { MAX_BACK } from '../server-log-start.js'
import { deadUrl, exited, foreground, memtrace, read, sleep, traceFiles, until } from './helpers.js'

const FAST = ['--interval', '1s', '--system-interval', '1s']
let DEAD = ''
t.before(async () => {
  DEAD = await deadUrl()
})

const serverLogOf = (dir: string) => {
  const name = existsSync(dir) ? readdirSync(dir).find(f => /^ollama-server-memtrace-.*\.log$/.test(f)) : undefined
  return name ? read(join(dir, name)) : ''
}
const memoryLine = (free: string) => `time=2026-01-01T00:00:00Z level=INFO source=sched.go:1 msg="system memory" total="31.3 GiB" free="${free} GiB" free_swap="0 B"\n`
const procStatus = (pid: number, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(read(`/proc/${pid}/status`))?.[1])
const procIo = (pid: number, key: string) => Number(new RegExp(`^${key}: (\\d+)`, 'm').exec(read(`/proc/${pid}/io`))?.[1])

t.test('a single 100 MB line: read past, never held; its end is not taken for a line; the next line is kept', async t => {
  const dir = t.testdir({ 'server.log': '' })
  const log = join(dir, 'server.log')
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST, '--server-log', log])
  t.teardown(() => void d.kill('SIGKILL'))
  await sleep(2500)
  const before = procStatus(d.pid as number, 'VmHWM')
  t.ok(before > 0, `the daemon's peak RSS before: ${before} kB`)
  // A prompt of 100 MB whose last words look like a memory line: none of it may be kept.
  const line = Buffer.alloc(100 * 2 ** 20, 'x')
  line.write(` ${memoryLine('66.6').trimEnd()}`, line.length - 200)
  appendFileSync(log, line)
  appendFileSync(log, `\n${memoryLine('12.3')}`)
  await until(() => (serverLogOf(trace).includes('12.3 GiB') ? true : undefined), 30_000, 'the line after the long one')
  const after = procStatus(d.pid as number, 'VmHWM')
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  t.ok(after - before < 20 * 1024, `the peak RSS grew by ${after - before} kB (under 20 MiB; the line is 100 MiB)`)
  t.equal(serverLogOf(trace), memoryLine('12.3'), 'only the line after it')
})

t.test('a 1 GB log present at the start is read from its end', async t => {
  const dir = t.testdir({})
  const log = join(dir, 'server.log')
  // 1 GiB with a memory line at its start and one at its end, sparse in between.
  const fd = openSync(log, 'w')
  writeSync(fd, memoryLine('1.1'))
  ftruncateSync(fd, 2 ** 30)
  writeSync(fd, `\n${memoryLine('2.2')}`, 2 ** 30)
  closeSync(fd)
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST, '--server-log', log])
  t.teardown(() => void d.kill('SIGKILL'))
  // Following once status names the log: on a busy machine the start takes more than a second.
  await until(() => (/server log: /.test(memtrace(['status', '--dir', trace]).stdout) ? true : undefined), 20_000, 'the log followed')
  appendFileSync(log, memoryLine('3.3'))
  await until(() => (serverLogOf(trace).includes('3.3 GiB') ? true : undefined), 10_000, 'the line written after the start')
  await sleep(2000)
  const readBytes = procIo(d.pid as number, 'rchar')
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  // The server's start lines are looked for backwards, MAX_BACK at most.
  t.ok(readBytes < MAX_BACK + 32 * 2 ** 20, `the daemon read ${readBytes} bytes in all (its code, /proc, at most ${MAX_BACK} bytes back for the server's start lines), far below 1 GiB`)
  t.equal(serverLogOf(trace), memoryLine('3.3'), 'only what was written after the start')
})

t.test('every line a memory line with absurd figures: nothing crashes, the cap holds, no tick of the traces is lost', async t => {
  const dir = t.testdir({ 'server.log': '' })
  const log = join(dir, 'server.log')
  const trace = join(dir, 'trace')
  // A traced process, so that every process tick writes a row.
  const name = `absurd-probe-${process.pid}`
  const probe = spawn('bash', ['-c', `exec -a ${name} sleep 60`], { stdio: 'ignore' })
  t.teardown(() => probe.kill('SIGKILL'))
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST, '--match', name, '--server-log', log])
  t.teardown(() => void d.kill('SIGKILL'))
  await sleep(1500)
  const absurd = [
    'time=2026-01-01T00:00:00Z level=INFO source=ggml.go:1 msg="kv cache" device=CPU size="99999999999999 GiB"',
    'time=2026-01-01T00:00:00Z level=INFO source=sched.go:1 msg="system memory" total="99999999999999 GiB" free="99999999999999 GiB" free_swap="99999999999999 GiB"',
    'load_tensors:   CPU_Mapped model buffer size = 99999999999999999999999.00 MiB',
    'time=2026-01-01T00:00:00Z level=INFO source=server.go:1 msg=offload library=CUDA memory.required.full="99999999999999 GiB" memory.available="[99999999999999 GiB]" layers.offload=999999999',
    'time=2026-01-01T00:00:00Z level=INFO source=ggml.go:1 msg="total memory" size="-5 GiB"',
  ]
  // Four seconds of 5,000 lines a second.
  for (let s = 0; s < 4; s++) {
    appendFileSync(log, `${Array.from({ length: 5000 }, (_, i) => absurd[i % absurd.length]).join('\n')}\n`)
    await sleep(1000)
  }
  await sleep(1500)
  t.equal(memtrace(['status', '--dir', trace]).code, 0, 'still running')
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const kept = serverLogOf(trace).split('\n').filter(Boolean)
  const figures = kept.filter(l => !l.startsWith('memtrace dropped'))
  t.equal(figures.length, 600, 'at most 600 lines of figures a minute')
  const dropped = kept.filter(l => l.startsWith('memtrace dropped')).map(l => (JSON.parse(l.slice('memtrace dropped '.length)) as { lines: number }).lines)
  t.ok(dropped.length === 1 && (dropped[0] as number) > 10_000, `the rest counted: ${dropped.join(', ')}`)
  const { proc, sys } = traceFiles(trace)
  const secondsOf = (stamps: string[]) => [...new Set(stamps)].map(s => Date.parse(s) / 1000)
  // Only the probe is traced: every row is its own, one per process tick.
  const rows = secondsOf(read(proc).split('\n').slice(1).filter(Boolean).map(l => l.split('\t')[0] as string))
  // A stop may add a block of its own, in the last tick's second or the next.
  const blocks = secondsOf(read(sys).match(/^===== (\S+) =====$/gm)?.map(l => l.slice(6, -6)) ?? [])
  for (const [what, ticks] of [['process', rows], ['system', blocks]] as const) {
    t.ok(ticks.length >= 7, `${ticks.length} ${what} ticks`)
    t.same(ticks.slice(1).filter((s, i) => s - (ticks[i] as number) !== 1), [], `every second has its ${what} sample: 0 missed`)
  }
  t.notMatch(read(sys), /memtrace missed/)
  const status = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { missedTicks: { process: number; system: number } }
  t.same(status.missedTicks, { process: 0, system: 0 })
})
