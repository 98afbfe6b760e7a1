import t from 'tap'
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { type AddressInfo, createServer } from 'node:net'
import { type DaemonStatus, StatusFile } from '../status-file.js'
import { exited, foreground, memtrace, read, sleep, traceFiles, until } from './helpers.js'

// A root daemon must never write through a link planted in its directory:
// each test plants one pointing outside and checks the target is untouched.
const DEAD = 'http://127.0.0.1:1'
const SLOW = ['--interval', '60m', '--system-interval', '60m', '--ollama-url', DEAD]

/** The stamp the daemon puts in its file names (local time, as `date +%Y%m%d-%H%M%S`). */
function stamp(ms: number): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`
}

t.test('the log: a planted memtrace.log link is refused, its target untouched', async t => {
  // Stopped before tap removes the folder: a teardown made after t.testdir runs once it is gone.
  const trace = join(t.testdirName, 'trace')
  t.teardown(() => memtrace(['stop', '--dir', trace]))
  const dir = t.testdir({ outside: { 'secret.conf': 'keep\n' } })
  mkdirSync(trace, { mode: 0o700 })
  symlinkSync(join(dir, 'outside', 'secret.conf'), join(trace, 'memtrace.log'))
  const r = memtrace(['start', '--dir', trace, ...SLOW])
  t.equal(r.code, 2, r.stdout)
  t.match(r.stderr, /cannot trace into .*: .*memtrace\.log is a symbolic link/)
  t.equal(read(join(dir, 'outside', 'secret.conf')), 'keep\n')
})

t.test('the trace files: a link at the next file name is refused, nothing is created through it', async t => {
  const dir = t.testdir({ outside: {} })
  const trace = join(dir, 'trace')
  mkdirSync(trace, { mode: 0o700 })
  // Links for every name the next few seconds could give; their targets do not exist yet.
  const now = Date.now()
  for (let s = 0; s < 30; s++) {
    const st = stamp(now + s * 1000)
    symlinkSync(join(dir, 'outside', `proc-${st}`), join(trace, `ollama-process-memtrace-${st}.tsv`))
    symlinkSync(join(dir, 'outside', `sys-${st}`), join(trace, `system-memtrace-${st}.log`))
  }
  const d = foreground(['--dir', trace, ...SLOW])
  let err = ''
  d.stderr?.on('data', c => (err += c))
  const timer = setTimeout(() => d.kill('SIGTERM'), 20_000)
  const ex = await exited(d)
  clearTimeout(timer)
  t.equal(ex.code, 2, err)
  t.match(err, /cannot trace into .*: .*memtrace-\d{8}-\d{6}\.(tsv|log) is a symbolic link/)
  t.same(readdirSync(join(dir, 'outside')), [], 'no file created outside')
})

t.test('a start refused for a planted link leaves nothing behind: no lock, no empty log, no folder it made', async t => {
  const dir = t.testdir({ outside: {} })
  const trace = join(dir, 'new', 'trace')
  mkdirSync(trace, { recursive: true, mode: 0o700 })
  const now = Date.now()
  for (let s = 0; s < 30; s++) {
    const st = stamp(now + s * 1000)
    symlinkSync(join(dir, 'outside', `proc-${st}`), join(trace, `ollama-process-memtrace-${st}.tsv`))
  }
  const planted = readdirSync(trace).sort()
  const r = memtrace(['start', '--dir', trace, ...SLOW])
  t.equal(r.code, 2, r.stdout)
  t.match(r.stderr, /memtrace-\d{8}-\d{6}\.tsv is a symbolic link/)
  t.same(readdirSync(trace).sort(), planted, 'only the planted links are there: no lock, no log, no trace file')
  const st = memtrace(['status', '--dir', trace])
  t.notMatch(st.stdout, /stale lock/, 'status reports no stale lock')
  t.same(readdirSync(join(dir, 'outside')), [], 'nothing created outside')
  // A directory the refused start made itself goes too.
  const fresh = join(dir, 'made', 'here')
  const taken = createServer()
  await new Promise<void>(ok => taken.listen(0, '127.0.0.1', ok))
  t.teardown(() => taken.close())
  const r2 = memtrace(['start', '--dir', fresh, '--metrics', `127.0.0.1:${(taken.address() as AddressInfo).port}`, ...SLOW])
  t.teardown(() => memtrace(['stop', '--dir', fresh]))
  t.equal(r2.code, 2, 'refused: the metrics port is taken')
  t.notOk(existsSync(join(dir, 'made')), 'the folders it created are removed')
})

t.test('mark: a planted memtrace.marks link is refused, its target untouched', async t => {
  const dir = t.testdir({ outside: { 'crontab': 'keep\n' } })
  const trace = join(dir, 'trace')
  const r = memtrace(['start', '--dir', trace, ...SLOW])
  t.equal(r.code, 0, r.stderr)
  // By pid, not by `stop --dir`: the test's directory is gone when teardowns run.
  const pid = Number(/pid (\d+)/.exec(r.stdout)?.[1])
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already stopped
    }
  })
  symlinkSync(join(dir, 'outside', 'crontab'), join(trace, 'memtrace.marks'))
  const m = memtrace(['mark', '--dir', trace, '* * * * * root sh /tmp/x'])
  t.equal(m.code, 2, m.stdout)
  t.match(m.stderr, /memtrace\.marks is a symbolic link/)
  t.equal(read(join(dir, 'outside', 'crontab')), 'keep\n')
  t.equal(memtrace(['stop', '--dir', trace]).code, 0, 'stopped while its directory is still there')
})

t.test('the status file and its temporary file are never written through a link', async t => {
  const dir = t.testdir({ outside: { a: 'keep a\n', b: 'keep b\n' } })
  symlinkSync(join(dir, 'outside', 'a'), join(dir, `memtrace.status.json.tmp-${process.pid}`))
  symlinkSync(join(dir, 'outside', 'b'), join(dir, 'memtrace.status.json'))
  const s = { version: 'x', pid: process.pid, running: true, processSamples: 3 } as unknown as DaemonStatus
  t.equal(new StatusFile(dir).write(s), undefined, 'written')
  t.equal(read(join(dir, 'outside', 'a')), 'keep a\n')
  t.equal(read(join(dir, 'outside', 'b')), 'keep b\n')
  t.match(JSON.parse(readFileSync(join(dir, 'memtrace.status.json'), 'utf8')), { processSamples: 3 }, 'the status is written in the directory itself')
})

t.test('a --dir that is a link owned by another user is refused; one of ours is followed', { skip: process.getuid?.() !== 0 && 'needs root to make a link owned by another user' }, async t => {
  const dir = t.testdir({ target: {}, mine: {} })
  const link = join(dir, 'trace')
  symlinkSync(join(dir, 'target'), link)
  lchownSync(link, 65534, 65534)
  const d = foreground(['--dir', link, ...SLOW])
  let err = ''
  d.stderr?.on('data', c => (err += c))
  const timer = setTimeout(() => d.kill('SIGTERM'), 20_000)
  t.equal((await exited(d)).code, 2, err)
  clearTimeout(timer)
  t.match(err, /trace is a symbolic link owned by uid 65534/)
  t.same(readdirSync(join(dir, 'target')), [], 'nothing written where it points')
  const own = join(dir, 'own')
  symlinkSync(join(dir, 'mine'), own)
  const r = memtrace(['start', '--dir', own, ...SLOW])
  t.equal(r.code, 0, r.stderr)
  t.equal(memtrace(['stop', '--dir', own]).code, 0)
  t.ok(readdirSync(join(dir, 'mine')).some(f => f.endsWith('.tsv')), 'a link of our own is followed')
})

t.test('the trace directory is created private to its owner', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'new', 'trace')
  const old = process.umask(0o022)
  const r = memtrace(['start', '--dir', trace, ...SLOW])
  process.umask(old)
  t.equal(r.code, 0, r.stderr)
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
  t.equal((statSync(trace).mode & 0o777).toString(8), '700')
  t.ok(existsSync(join(trace, 'memtrace.log')))
})

t.test('a memtrace.marks hard-linked to another file is not read into the trace', async t => {
  const dir = t.testdir({ outside: { 'notes': '{"ts":"2026-02-25T14:00:00Z","text":"from another file"}\n' } })
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--interval', '1s', '--system-interval', '1s', '--ollama-url', DEAD])
  t.teardown(() => d.kill('SIGKILL'))
  const { linkSync } = await import('node:fs')
  for (let i = 0; i < 100 && !existsSync(join(trace, 'memtrace.lock')); i++) await new Promise(r => setTimeout(r, 50))
  linkSync(join(dir, 'outside', 'notes'), join(trace, 'memtrace.marks'))
  await new Promise(r => setTimeout(r, 3000))
  d.kill('SIGTERM')
  await exited(d)
  const log = readdirSync(trace).filter(n => n.startsWith('system-memtrace-'))
  t.equal(log.length, 1)
  t.notMatch(read(join(trace, log[0] as string)), /from another file/)
})

t.test("a trace directory removed while tracing is never made again through another user's link or folder", { skip: process.getuid?.() !== 0 && 'needs root to make files owned by another user' }, async t => {
  // A world-writable, sticky parent, as /tmp is: anyone may put a name there once the daemon's directory is gone.
  const dir = t.testdir({ theirs: {}, theirs2: {} })
  chmodSync(dir, 0o1777)
  chownSync(join(dir, 'theirs'), 65534, 65534)
  chownSync(join(dir, 'theirs2'), 65534, 65534)
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--interval', '1s', '--system-interval', '1s', '--ollama-url', DEAD])
  t.teardown(() => d.kill('SIGKILL'))
  let err = ''
  d.stderr?.on('data', c => (err += c))
  await until(() => existsSync(join(trace, 'memtrace.status.json')), 10_000, 'the first status')
  // Removed, and at once another user's link in its place (in one step here, so the daemon cannot come between).
  rmSync(trace, { recursive: true })
  symlinkSync(join(dir, 'theirs'), trace)
  lchownSync(trace, 65534, 65534)
  await sleep(3000)
  t.same(readdirSync(join(dir, 'theirs')), [], "nothing written into the other user's directory: no lock, log, status or trace")
  t.match(err, /trace was removed while tracing, and it cannot be recreated: .*trace is now a symbolic link owned by uid 65534/, 'the refusal is said')
  // Their folder itself at the name: refused too.
  unlinkSync(trace)
  mkdirSync(trace)
  chownSync(trace, 65534, 65534)
  await sleep(2500)
  t.same(readdirSync(trace), [], 'nothing written into a folder of theirs at the name')
  t.match(err, /trace is now a directory owned by uid 65534/, 'the refusal is said')
  // Gone again: the daemon makes its own, private, and traces on.
  rmSync(trace, { recursive: true })
  await until(() => {
    try {
      return traceFiles(trace)
    } catch {
      return undefined
    }
  }, 10_000, 'new trace files')
  await sleep(1500)
  t.equal(statSync(trace).uid, 0, 'made by the daemon')
  t.equal((statSync(trace).mode & 0o777).toString(8), '700')
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0, err)
  const status = JSON.parse(readFileSync(join(trace, 'memtrace.status.json'), 'utf8')) as DaemonStatus
  t.same(status.missedTicks, { process: 0, system: 0 }, 'no tick missed')
  t.same(readdirSync(join(dir, 'theirs2')), [])
})
