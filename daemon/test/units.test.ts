import t from 'tap'
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ticker, type TickerClock } from '../ticker.js'
import { isServer, selectProcesses } from '../select.js'
import { parsePsLine } from '../probe/macos.js'
import { AppendFile } from '../sink.js'
import { ManifestIndex } from '../manifests.js'
import { ollamaUrlFromEnv, parseDuration } from '../config.js'
import { pull } from '../../standin/store.js'
import { findModel } from '../../standin/catalogue.js'

/** A clock the test moves by hand; jobs take the time the test says. */
function fakeClock() {
  let now = 1_000_000_123
  const timers: { at: number; fn: () => void; id: number }[] = []
  let id = 0
  const clock: TickerClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.push({ at: now + ms, fn, id: ++id })
      return id
    },
    clearTimeout: h => {
      const i = timers.findIndex(x => x.id === h)
      if (i >= 0) timers.splice(i, 1)
    },
  }
  const advance = async (ms: number) => {
    const end = now + ms
    for (;;) {
      timers.sort((a, b) => a.at - b.at)
      const next = timers[0]
      if (!next || next.at > end) break
      timers.shift()
      now = next.at
      next.fn()
      for (let i = 0; i < 5; i++) await Promise.resolve()
    }
    now = end
  }
  return { clock, advance, set: (v: number) => (now = v), get: () => now }
}

t.test('ticks fall on whole multiples of the interval: no drift over an hour', async t => {
  const c = fakeClock()
  const seen: number[] = []
  const ticker = new Ticker(1000, tick => {
    seen.push(tick)
    c.set(c.get() + 37) // each sample takes 37 ms
  }, () => t.fail('nothing should be missed'), c.clock)
  ticker.start()
  await c.advance(3_600_000)
  t.ok(seen.length >= 3599, `${seen.length} ticks`)
  t.ok(seen.every(x => x % 1000 === 0), 'every tick on the second')
  t.ok(seen.every((x, i) => i === 0 || x - (seen[i - 1] as number) === 1000), 'one second apart, always')
  await ticker.stop()
})

t.test('a slow sample skips ticks instead of queueing them, and says how many', async t => {
  const c = fakeClock()
  const seen: number[] = []
  const missed: number[] = []
  let slow = true
  const ticker = new Ticker(1000, tick => {
    seen.push(tick)
    if (slow) {
      slow = false
      c.set(c.get() + 3500) // a thrashing machine
    }
  }, n => missed.push(n), c.clock)
  ticker.start()
  await c.advance(10_000)
  t.same(missed, [3])
  const steps = seen.slice(1).map((x, i) => x - (seen[i] as number))
  t.equal(steps[0], 4000, 'the next tick is the next whole second after the slow one')
  t.ok(steps.slice(1).every(s => s === 1000))
  await ticker.stop()
})

t.test('selection: the pattern, every descendant of ollama serve, never memtrace itself', async t => {
  const all = [
    { pid: 1, ppid: 0, comm: 'init', command: '/sbin/init' },
    { pid: 10, ppid: 1, comm: 'ollama', command: '/usr/local/bin/ollama serve' },
    { pid: 11, ppid: 10, comm: 'llama-server', command: '/usr/local/lib/ollama/llama-server --model /m/blobs/sha256-x --port 1' },
    { pid: 12, ppid: 11, comm: 'helper', command: 'helper' },
    { pid: 20, ppid: 1, comm: 'python3', command: 'python3 -m mlx_lm.server --model x' },
    { pid: 30, ppid: 1, comm: 'node', command: 'node /opt/memtrace/dist/bin/memtrace.js start --foreground --dir ollama-memtrace' },
    { pid: 31, ppid: 30, comm: 'nvidia-smi', command: 'nvidia-smi --query-gpu=index' },
    { pid: 32, ppid: 30, comm: 'ollama', command: 'ollama ps' },
    { pid: 40, ppid: 1, comm: 'node', command: 'node dist/bin/memtrace.js mark --dir ollama-memtrace hi' },
    { pid: 50, ppid: 1, comm: 'vim', command: 'vim notes.txt' },
  ]
  t.same(selectProcesses(all, /ollama|mlx|runner/, 30).map(p => p.pid), [10, 11, 12, 20])
})

t.test('selection on Windows: a server whose quoted path holds a space is the server, and its runners are traced', async t => {
  const app = 'C:\\Users\\Zoë Åberg\\AppData\\Local\\Programs\\Ollama'
  const all = [
    { pid: 11872, ppid: 10236, comm: 'ollama.exe', command: `"${app}\\ollama.exe" serve` },
    { pid: 15304, ppid: 11872, comm: 'llama-server.exe', command: `"${app}\\lib\\ollama\\llama-server.exe" --model "C:\\Users\\Zoë Åberg\\.ollama\\models\\blobs\\sha256-x" --port 50342` },
    { pid: 6120, ppid: 5988, comm: 'explorer.exe', command: 'C:\\WINDOWS\\Explorer.EXE' },
  ]
  t.ok(isServer(all[0]?.command as string), 'the server: its runners are its children (and their models folder beside their blobs is trusted)')
  // A pattern that names neither: the server's descendants only.
  t.same(selectProcesses(all, /^ollama serve$/, 1).map(p => p.pid), [11872, 15304])
})

t.test('macOS ps lines: a comm path with spaces, and junk', async t => {
  t.same(parsePsLine('  812     1 /Applications/Ollama.app/Contents/Resources/ollama  61234 412345678 /Applications/Ollama.app/Contents/Resources/ollama serve'), {
    pid: 812, ppid: 1, comm: '/Applications/Ollama.app/Contents/Resources/ollama', rssKb: 61234, vszKb: 412345678, command: '/Applications/Ollama.app/Contents/Resources/ollama serve',
  })
  t.equal(parsePsLine('  900   1 /Applications/My App.app/Contents/MacOS/My App  1000 2000 /Applications/My App.app/Contents/MacOS/My App --flag')?.comm, '/Applications/My App.app/Contents/MacOS/My App')
  t.equal(parsePsLine('garbage'), undefined)
})

t.test('a failed write is kept and written once the file can be written again', async t => {
  const dir = t.testdir({})
  const path = join(dir, 'trace.tsv')
  const f = new AppendFile(path, { header: 'header\n' })
  // The file replaced by a link to /dev/full and reopened (SIGHUP): the link
  // is refused, so nothing can be written until a plain file is back.
  rmSync(path)
  symlinkSync('/dev/full', path)
  f.reopen()
  t.equal(f.write('row 1\n'), false)
  t.match(f.lastError, /is a symbolic link/)
  t.equal(f.pendingBytes, 'row 1\n'.length)
  rmSync(path)
  writeFileSync(path, '')
  t.equal(f.write('row 2\n'), true)
  t.equal(readFileSync(path, 'utf8'), 'row 1\nrow 2\n', 'nothing lost, nothing doubled')
  f.close()
  t.equal(f.write('late\n'), false, 'no writes after close')
})

t.test('new files are private to their owner and existing ones are appended to, never truncated', async t => {
  const dir = t.testdir({ 'old.tsv': 'kept\n' })
  const f = new AppendFile(join(dir, 'old.tsv'))
  f.write('more\n')
  f.close()
  t.equal(readFileSync(join(dir, 'old.tsv'), 'utf8'), 'kept\nmore\n')
  const g = new AppendFile(join(dir, 'new.tsv'))
  g.close()
  const { statSync } = await import('node:fs')
  t.equal(statSync(join(dir, 'new.tsv')).mode & 0o777, 0o600)
})

t.test('manifests map a runner blob to the model name Ollama shows', async t => {
  const dir = t.testdir({})
  const m = pull(dir, findModel('qwen2.5-coder:7b')!)
  const blob = m.modelBlob.split('/').pop() as string
  const idx = new ManifestIndex([join(dir, 'nowhere'), dir])
  t.same(idx.lookup(blob, 0), { pending: true }, 'read off the tick')
  await idx.settled()
  t.same(idx.lookup(blob, 0), { model: 'qwen2.5-coder:7b', pending: false })
  t.same(idx.lookup('sha256-0000', 10), { pending: false }, 'unknown, and read again only after 5 s')
  // a model pulled later is found (the index rereads for an unknown blob)
  const later = pull(dir, findModel('llama3.2:3b')!)
  const laterBlob = later.modelBlob.split('/').pop() as string
  t.same(idx.lookup(laterBlob, 10_000), { pending: true })
  await idx.settled()
  t.equal(idx.lookup(laterBlob, 10_000).model, 'llama3.2:3b')
})

t.test('options: durations and OLLAMA_HOST', async t => {
  t.equal(parseDuration('1s', 'x'), 1000)
  t.equal(parseDuration('500ms', 'x'), 500)
  t.equal(parseDuration('5', 'x'), 5000)
  t.throws(() => parseDuration('soon', 'x'))
  t.throws(() => parseDuration('10ms', 'x'))
  t.equal(ollamaUrlFromEnv({}), 'http://127.0.0.1:11434')
  t.equal(ollamaUrlFromEnv({ OLLAMA_HOST: '0.0.0.0' }), 'http://127.0.0.1:11434')
  t.equal(ollamaUrlFromEnv({ OLLAMA_HOST: 'example.test:8080' }), 'http://example.test:8080')
  t.equal(ollamaUrlFromEnv({ OLLAMA_HOST: 'https://h.test' }), 'https://h.test:11434')
})

t.test('the server memory cgroup, v2 and v1, in the layout the renderer reads', async t => {
  const { memoryCgroup, cgroupText } = await import('../probe/system-linux.js')
  const dir = t.testdir({
    proc: { '10': { cgroup: '0::/system.slice/docker-ab12.scope\n' }, '11': { cgroup: '12:memory:/docker/cd34\n11:cpu:/docker/cd34\n' }, '12': { cgroup: '0::/\n' } },
    sys: {
      'system.slice': { 'docker-ab12.scope': { 'memory.current': '4294967296\n', 'memory.max': 'max\n', 'memory.pressure': 'some avg10=1.00 avg60=0.50 avg300=0.10 total=42\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n' } },
      memory: { docker: { cd34: { 'memory.usage_in_bytes': '1073741824\n', 'memory.limit_in_bytes': '8589934592\n' } } },
    },
  })
  const v2 = memoryCgroup(10, join(dir, 'proc'), join(dir, 'sys'))
  t.match(v2, { version: 2, path: '/system.slice/docker-ab12.scope' })
  const { block } = await import('../../core/test/helpers.js')
  const s2 = block(cgroupText(v2!)).sample
  t.same(s2.cgroup, { path: '/system.slice/docker-ab12.scope', usageBytes: 4294967296, limitBytes: null, pressure: { someAvg10: 1, someAvg60: 0.5, someAvg300: 0.1, someTotalUs: 42, fullAvg10: 0, fullAvg60: 0, fullAvg300: 0, fullTotalUs: 7 } })
  const v1 = memoryCgroup(11, join(dir, 'proc'), join(dir, 'sys'))
  t.match(v1, { version: 1, path: '/docker/cd34' })
  t.match(block(cgroupText(v1!)).sample.cgroup, { usageBytes: 1073741824, limitBytes: 8589934592 })
  t.equal(memoryCgroup(12, join(dir, 'proc'), join(dir, 'sys')), undefined, 'the root cgroup is the host itself')
})

t.test('inside a container (its own cgroup namespace), 0::/ is the container: its limit is read from the namespace root', async t => {
  const { memoryCgroup, cgroupText, namespaceCgroup } = await import('../probe/system-linux.js')
  const { block } = await import('../../core/test/helpers.js')
  // What a container sees: every process at `0::/`, and its own cgroup's files at the root of /sys/fs/cgroup.
  const dir = t.testdir({
    proc: { self: { cgroup: '0::/\n' }, '7': { cgroup: '0::/\n' } },
    sys: { 'memory.current': '2013295542\n', 'memory.max': '17179869184\n', 'memory.events': 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n', 'memory.stat': 'anon 1\n' },
    host: { 'memory.stat': 'anon 1\n', 'cgroup.procs': '1\n' },
  })
  const server = memoryCgroup(7, join(dir, 'proc'), join(dir, 'sys'))
  t.same(server, { version: 2, path: '/', dir: join(dir, 'sys') }, "the server's 0::/ is the container's cgroup")
  t.match(block(cgroupText(server!)).sample.cgroup, { path: '/', usageBytes: 2013295542, limitBytes: 17179869184 }, 'the limit reaches the trace as a container sample shows it')
  t.same(namespaceCgroup(join(dir, 'proc'), join(dir, 'sys')), { version: 2, path: '/', dir: join(dir, 'sys') }, "before any server is seen, memtrace's own")
  t.equal(memoryCgroup(7, join(dir, 'proc'), join(dir, 'host')), undefined, 'on the host, the root cgroup (no memory.max) is still the host itself')
  t.equal(namespaceCgroup(join(dir, 'proc'), join(dir, 'host')), undefined)
  // Its memory.events is where a kill at the container's limit shows.
  const { OomWatch } = await import('../oom-kills.js')
  const w = new OomWatch(join(dir, 'no-proc'), join(dir, 'no-kmsg'))
  const runner = { pid: 41, ppid: 7, comm: 'llama-server', rssKb: 9_000_000, vszKb: 1, command: 'llama-server --model x', startTicks: 1 }
  w.note([runner], new Map([[41, 'qwen3:8b']]), 1000)
  t.same(w.check(5000, server!.dir), [], 'no kill yet')
  w.note([], new Map(), 6000)
  const { writeFileSync } = await import('node:fs')
  writeFileSync(join(dir, 'sys', 'memory.events'), 'low 0\nhigh 0\nmax 40\noom 2\noom_kill 2\n')
  t.match(w.check(10000, server!.dir), [{ pid: 41, model: 'qwen3:8b', source: 'cgroup' }], "a kill at the container's limit is seen through the namespace root's memory.events")
})

t.test('a ticker started now runs at once, then on the whole intervals', async t => {
  const c = fakeClock()
  const seen: number[] = []
  const ticker = new Ticker(5000, tick => void seen.push(tick), () => t.fail('nothing missed'), c.clock)
  const t0 = c.get()
  ticker.start(true)
  for (let i = 0; i < 5; i++) await Promise.resolve() // let the first run finish and arm the next
  await c.advance(12_000)
  t.equal(seen[0], t0, 'the first run is immediate')
  t.ok(seen.slice(1).every(x => x % 5000 === 0), 'the rest on the clock')
  t.equal(seen.length, 3)
  await ticker.stop()
})

t.test('the command column: once per process, again on a change at most each minute, all again after a reset', async t => {
  const { CommandColumn, bounded } = await import('../command-column.js')
  const c = new CommandColumn()
  const at = (ms: number, cmd = 'ollama serve', key = '1:5') => {
    const col = c.column(key, cmd, ms)
    c.sampled()
    return col
  }
  t.equal(at(0), '\tollama serve', 'the first row has it')
  t.equal(at(1000), '', 'the next rows leave it out')
  t.equal(at(2000, 'ollama serve --changed'), '', 'a change within the minute waits')
  t.equal(at(61_000, 'ollama serve --changed'), '\tollama serve --changed', 'and is written after it')
  t.equal(at(62_000, 'a\tb\nc'), '', 'unchanged for a minute again')
  c.reset()
  t.equal(at(63_000, 'ollama serve --changed'), '\tollama serve --changed', 'a new file has every command again')
  t.equal(at(64_000, 'ollama serve', '2:9'), '\tollama serve', 'a new process (PID reused: another start) has its own')
  t.equal(at(65_000, 'ollama serve --changed'), '\tollama serve --changed', 'a process missing from a sample is forgotten')
  t.equal(bounded('x'.repeat(9000)).length, 8192)
  t.equal(bounded(`${'x'.repeat(8191)}😀`).length, 8191, 'never half a character')
})
