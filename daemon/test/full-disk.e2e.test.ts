import t from 'tap'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { deadUrl, exited, fill, foreground, memtrace, read, sleep, smallDisk, traceFiles, until } from './helpers.js'
import { parseProc, parseSys } from '../../core/test/helpers.js'

const NOT_ROOT = process.getuid?.() !== 0 && 'mounting a small tmpfs needs root (as in CI); sink.test.ts covers the write path with an injected writer'
let DEAD = ''

t.before(async () => {
  DEAD = await deadUrl()
})

t.test('a full disk: the daemon keeps sampling, says so, and writes on when space returns', { skip: NOT_ROOT }, async t => {
  const mnt = smallDisk(t, '4m')
  const trace = join(mnt, 'trace')
  // Every process matches: many rows a sample, so the disk's last free page goes fast.
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, '--match', '.', '--interval', '250ms', '--system-interval', '1s'])
  t.teardown(() => d.kill('SIGKILL'))
  let log = ''
  d.stderr?.on('data', (c: Buffer) => (log += c.toString()))
  await until(() => existsSync(join(trace, 'memtrace.status.json')) || undefined, 10_000, 'the daemon to start')
  await sleep(1200)
  fill(join(mnt, 'filler'))
  const failing = await until(() => {
    const st = memtrace(['status', '--dir', trace])
    return /writes failing since .*ENOSPC/.test(st.stdout) ? st : undefined
  }, 15_000, 'status to report the full disk')
  t.equal(failing.code, 0, 'status: running')
  t.match(failing.stdout, /last error: \S+ cannot write .*ENOSPC/, 'the last error names the full disk')
  t.match(failing.stdout, /held back \(up to 8 MiB\)/, 'and what is held back')
  // A while on the full disk: before, the log writer's ENOSPC killed the daemon here.
  await sleep(8000)
  t.equal(d.exitCode, null, 'the daemon still runs on the full disk')
  const before = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { processSamples: number }
  await sleep(1500)
  const after = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { processSamples: number }
  t.ok(after.processSamples > before.processSamples, `sampling goes on (${before.processSamples} → ${after.processSamples})`)
  rmSync(join(mnt, 'filler'))
  let last = ''
  const healed = await until(() => {
    const st = memtrace(['status', '--dir', trace])
    last = st.stdout
    return st.code === 0 && !/writes failing/.test(st.stdout) ? st : undefined
  }, 15_000, 'status to say writing works again').catch(e => {
    t.comment(last)
    throw e
  })
  t.notMatch(healed.stdout, /status file is stale/)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  t.notOk(existsSync(join(trace, 'memtrace.lock')), 'lock released')
  const { proc, sys } = traceFiles(trace)
  const p = parseProc(readFileSync(proc, 'utf8'))
  const s = parseSys(readFileSync(sys, 'utf8'))
  t.same(p.problems.summary(), [], 'every row parses')
  t.same(s.problems.summary(), [], 'every block parses')
  t.notMatch(readFileSync(sys, 'utf8'), /[^\n]===== \d/, 'no block header glued to other text')
  t.ok(p.rows.length > 50 && s.blocks.length > 5, `${p.rows.length} rows, ${s.blocks.length} blocks`)
  const status = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { running: boolean }
  t.equal(status.running, false, 'the status file says stopped')
  t.match(log, /cannot write [^"]*ENOSPC/, 'the log says writes failed')
  t.match(log, /writing again/, 'and that they work again')
})

t.test('status says when the status file is stale', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, '--interval', '500ms', '--system-interval', '1s'])
  t.teardown(() => d.kill('SIGKILL'))
  await until(() => existsSync(join(trace, 'memtrace.status.json')) || undefined, 10_000, 'the daemon to start')
  t.notMatch(memtrace(['status', '--dir', trace]).stdout, /status file is stale/)
  // A daemon that cannot update its status file (here: stopped) leaves it to age.
  d.kill('SIGSTOP')
  await sleep(9000)
  const st = memtrace(['status', '--dir', trace])
  d.kill('SIGCONT')
  t.match(st.stdout, /the status file is stale: last written \d+ s ago/)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
})
