/**
 * `memtrace run` sent SIGTERM (a service manager, a timeout) or SIGHUP (its
 * terminal closed) instead of a Ctrl-C: the signal reaches the command, the
 * background daemon is stopped and the chart drawn, as after a Ctrl-C.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { BIN, deadUrl, exited, gone, memtrace, read, sleep, until } from './helpers.js'

for (const [signal, number] of [['SIGTERM', 15], ['SIGHUP', 1]] as const) {
  t.test(`memtrace run on ${signal}: the command gets it, tracing stops, the chart is drawn`, async t => {
    const dir = t.testdir({})
    const trace = join(dir, 'run')
    const run = spawn(process.execPath, [BIN, 'run', '--dir', trace, '--ollama-url', await deadUrl(), '--', 'sleep', '300'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    run.stdout.on('data', d => (out += d))
    const command = await until(() => {
      const line = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(run.pid)], { encoding: 'utf8' }).stdout.split('\n').find(l => /\bsleep 300$/.test(l.trim()))
      return line ? Number(line.trim().split(' ')[0]) : undefined
    }, 10_000, 'the command started')
    const daemon = (JSON.parse(read(join(trace, 'memtrace.lock'))) as { pid: number }).pid
    t.teardown(() => {
      for (const pid of [run.pid as number, command, daemon]) if (!gone(pid)) process.kill(pid, 'SIGKILL')
    })
    await sleep(2000)
    t.notOk(gone(daemon), 'the daemon traces in the background')
    process.kill(run.pid as number, signal)
    const end = await exited(run)
    t.same(end, { code: 128 + number, signal: null }, `memtrace run exits with the status of a command ended by ${signal}`)
    t.ok(gone(command), 'the command got the signal')
    t.ok(gone(daemon), 'the daemon is stopped')
    t.equal(memtrace(['status', '--dir', trace]).code, 1, 'and says so')
    t.match(out, /wrote .*memtrace-\d{8}-\d{6}\.svg/, 'the chart is drawn')
  })
}
