/**
 * The bench's guardian stops a daemon whose start was still under way when
 * the bench died: the bench tells the guardian of the daemon before
 * `memtrace start`, and a SIGKILL during the start leaves that start
 * running; its daemon takes the lock only after the guardian's first stop
 * has found none.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, memtrace, ROOT } from '../../core/test/helpers.js'

const sleep = (ms: number) => new Promise(ok => setTimeout(ok, ms))

t.test('the bench dies while memtrace start runs: the daemon it was starting is stopped once it is up', async t => {
  // Registered before the folder: tap removes a test's folder before teardowns made after it run.
  t.teardown(() => void memtrace(['stop', '--dir', join(t.testdirName, 'trace')]))
  const trace = join(t.testdir({}), 'trace')
  const guardian = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'guardian.js')], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
  guardian.stdin.write(`daemon ${trace}\n`)
  // What the bench does next: `memtrace start`, and dies (its end of the pipe closes) before the start returns.
  const start = spawn(process.execPath, [BIN, 'start', '--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--interval', '60m', '--system-interval', '60m'], { stdio: 'ignore' })
  guardian.stdin.end()
  const started = await new Promise<number | null>(ok => start.once('exit', ok))
  t.equal(started, 0, 'the start went through: a daemon was up')
  let running = true
  for (let i = 0; i < 80 && running; i++) {
    running = memtrace(['status', '--dir', trace]).code === 0
    if (running) await sleep(250)
  }
  t.notOk(running, 'the guardian stopped it')
  t.notOk(existsSync(join(trace, 'memtrace.lock')), 'and its lock is gone')
  await new Promise(ok => (guardian.exitCode !== null ? ok(null) : guardian.once('exit', ok)))
})

t.test("the bench dies as it spawns memtrace start: a start that is not yet a process when the guardian looks is still waited for", async t => {
  t.teardown(() => void memtrace(['stop', '--dir', join(t.testdirName, 'trace')]))
  const trace = join(t.testdir({}), 'trace')
  const guardian = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'guardian.js')], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
  guardian.stdin.write(`daemon ${trace}\n`)
  // The bench dies first; its start, forked but not yet running memtrace (on a loaded machine that takes a while), comes after.
  guardian.stdin.end()
  await sleep(500)
  const start = spawn(process.execPath, [BIN, 'start', '--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--interval', '60m', '--system-interval', '60m'], { stdio: 'ignore' })
  t.equal(await new Promise<number | null>(ok => start.once('exit', ok)), 0, 'the start went through: a daemon was up')
  let running = true
  for (let i = 0; i < 80 && running; i++) {
    running = memtrace(['status', '--dir', trace]).code === 0
    if (running) await sleep(250)
  }
  t.notOk(running, 'the guardian stopped it')
  await new Promise(ok => (guardian.exitCode !== null ? ok(null) : guardian.once('exit', ok)))
})
