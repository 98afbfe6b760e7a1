/** `render --pid`: only the processes of the given PIDs and their descendants, as a bench's memory chart draws its own server. */
import t from 'tap'
import { join } from 'node:path'
import { onlyTrees } from '../only-pids.js'
import { memtrace, ROOT } from '../../core/test/helpers.js'

t.test('a PID keeps itself and every process descended from it', async t => {
  const procs = [{ pid: 1, ppid: 0 }, { pid: 812, ppid: 1 }, { pid: 4412, ppid: 812 }, { pid: 4500, ppid: 4412 }, { pid: 790, ppid: 1 }, { pid: 90007, ppid: 1 }]
  t.same(onlyTrees(procs, [812]).map(p => p.pid), [812, 4412, 4500])
  t.same(onlyTrees(procs, [4412, 790]).map(p => p.pid), [4412, 4500, 790])
  t.same(onlyTrees(procs, [7]), [], 'a PID the trace never saw draws nothing')
})

t.test('on the Mac sample: --pid 812 draws the server and its three children (two runners), not the app or the placeholders', async t => {
  const dir = t.testdir({})
  const all = memtrace(['render', '--dir', join(ROOT, 'samples', 'mac-model-switch'), '-o', join(dir, 'all.svg'), '--tz', 'UTC'])
  t.equal(all.code, 0, all.stderr)
  const one = memtrace(['render', '--dir', join(ROOT, 'samples', 'mac-model-switch'), '-o', join(dir, 'one.svg'), '--tz', 'UTC', '--pid', '812'])
  t.equal(one.code, 0, one.stderr)
  t.match(one.stdout, /: 4 processes, 2 runners,/)
  t.ok(Number(/: (\d+) processes/.exec(all.stdout)?.[1]) > 4, all.stdout)
  const { readFileSync } = await import('node:fs')
  t.match(readFileSync(join(dir, 'one.svg'), 'utf8'), /Drawn: the processes of PID 812 and their descendants \(4 of the \d+ traced\)\./)
  const bad = memtrace(['render', '--dir', join(ROOT, 'samples', 'mac-model-switch'), '-o', join(dir, 'x.svg'), '--pid', '812,abc'])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /--pid wants process IDs separated by commas/)
})

t.test("two servers captured by the daemon: --pid of one keeps its processes, its address and its listings, not the other's", async t => {
  const { loadTrace } = await import('../load.js')
  const { readdirSync } = await import('node:fs')
  const d = join(ROOT, 'render', 'test', 'fixtures', 'two-servers')
  const files = readdirSync(d)
  const { trace, procsBefore } = await loadTrace(join(d, files.find(f => f.endsWith('.tsv'))!), join(d, files.find(f => f.startsWith('system-'))!), undefined, undefined, undefined, [6357])
  t.equal(procsBefore, 6)
  t.same(trace.procs.map(p => p.pid).sort(), [6357, 6518, 6699], 'the server on :29270 and its two runners')
  t.same([...new Set(trace.events.filter(e => e.kind === 'server').map(e => e.address))], ['127.0.0.1:29270'])
  t.ok(trace.snapshots.length > 0)
  t.ok(trace.snapshots.every(s => s.servers?.join() === '127.0.0.1:29270' && s.models.every(m => m.server === '127.0.0.1:29270')), "the other server's listings are gone")
})
