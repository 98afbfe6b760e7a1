/**
 * Any local user can start a process whose command line says "runner", and
 * the daemon traces it. A 1 MB command line was written whole into every row,
 * every second (86 GB a day). Now the trace keeps at most 8,192 characters of
 * it, written on the process's first row and again only when it changes
 * (format 2, docs/format.md), and every row still reads with its command.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { DaemonStatus } from '../status-file.js'
import { exited, foreground, memtrace, read, sleep, traceFiles, until } from './helpers.js'

const root = process.getuid?.() === 0

t.test('a 1 MB command line is kept once, cut to 8,192 characters, and every row still has it', { skip: process.platform !== 'linux' && 'Linux only' }, async t => {
  const dir = t.testdir({})
  // Eight arguments just under the kernel's 128 KiB limit for one: about 1 MB in all.
  const big = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(127 * 1024))
  const args = ['-c', 'sleep 30; :', 'runner', ...big]
  const other = root ? spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', ...args], { stdio: 'ignore' }) : spawn('/bin/sh', args, { stdio: 'ignore' })
  t.teardown(() => other.kill('SIGKILL'))
  const out = join(dir, 'trace')
  const d = foreground(['--dir', out, '--interval', '1s', '--system-interval', '1s', '--ollama-url', 'http://127.0.0.1:9'])
  t.teardown(() => d.kill('SIGKILL'))
  await until(() => {
    try {
      return traceFiles(out)
    } catch {
      return undefined
    }
  }, 10_000, 'the trace')
  await sleep(5000)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const { proc, sys } = traceFiles(out)
  const pid = String(other.pid)
  const mine = read(proc).split('\n').filter(l => l.split('\t')[1] === pid)
  t.ok(mine.length >= 4, `the process is traced (${mine.length} rows)`)
  const withCommand = mine.filter(l => l.split('\t').length === 7)
  t.equal(withCommand.length, 1, 'its command line is written once')
  t.equal((withCommand[0] as string).split('\t')[6]?.length, 8192, 'cut to 8,192 characters')
  t.ok(statSync(proc).size < 64 * 1024, `the trace is ${statSync(proc).size} bytes, not megabytes`)
  // Read back, every row has the command.
  const parsed = memtrace(['parse', proc, sys]).stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as { record: string; pid?: number; command?: string })
  const samples = parsed.filter(r => r.record === 'process-sample' && r.pid === other.pid)
  t.equal(samples.length, mine.length)
  t.ok(samples.every(r => r.command?.startsWith('/bin/sh -c sleep 30; : runner 000') && r.command.length === 8192), 'each row reads with the command')
  const status = JSON.parse(readFileSync(join(out, 'memtrace.status.json'), 'utf8')) as DaemonStatus
  t.same(status.missedTicks, { process: 0, system: 0 }, 'no tick missed')
})
