/**
 * `render --prometheus`: its times and its refusals. The drawing itself is
 * tested against a real Prometheus in daemon/test/prometheus.e2e.test.ts.
 */
import t from 'tap'
import { createServer } from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { whenText } from '../args.js'
import { spawn } from 'node:child_process'
import { BIN, memtrace } from '../../core/test/helpers.js'

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0)

t.test('--from and --to: ISO 8601 with or without a zone, unix seconds, now and now-N', async t => {
  t.equal(whenText('2026-11-23T02:00:00Z', '--from', 'UTC', NOW), Date.UTC(2026, 10, 23, 2))
  t.equal(whenText('2026-11-23T02:00:00+01:00', '--from', 'UTC', NOW), Date.UTC(2026, 10, 23, 1))
  t.equal(whenText('2026-11-23T02:00', '--from', 'Europe/Berlin', NOW), Date.UTC(2026, 10, 23, 1), 'no zone: a wall-clock time in --tz (CET, +1)')
  t.equal(whenText('2026-07-01 02:00:30', '--from', 'Europe/Berlin', NOW), Date.UTC(2026, 6, 1, 0, 0, 30), 'in summer, CEST (+2)')
  t.equal(whenText('1763863200', '--from', 'UTC', NOW), 1763863200_000)
  t.equal(whenText('now', '--to', 'UTC', NOW), NOW)
  t.equal(whenText('now-2h', '--from', 'UTC', NOW), NOW - 2 * 3600_000)
  t.equal(whenText('now-30m', '--from', 'UTC', NOW), NOW - 30 * 60_000)
  t.throws(() => whenText('yesterday', '--from', 'UTC', NOW), /--from: expected a time such as/)
})

t.test('what --prometheus needs is said before anything is asked', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'x.svg')
  const cases: [string[], RegExp][] = [
    [['--prometheus', 'http://127.0.0.1:9', '--instance', 'h:9464', '--from', 'now-1h', '--to', 'now'], /needs -o/],
    [['--prometheus', 'http://127.0.0.1:9', '-o', out, '--from', 'now-1h', '--to', 'now'], /needs --instance/],
    [['--prometheus', 'http://127.0.0.1:9', '-o', out, '--instance', 'h:9464', '--to', 'now'], /needs --from and --to/],
    [['--prometheus', 'http://127.0.0.1:9', '-o', out, '--instance', 'h:9464', '--from', 'now', '--to', 'now-1h'], /--to must be after --from/],
    [['--prometheus', 'ftp://x', '-o', out, '--instance', 'h:9464', '--from', 'now-1h', '--to', 'now'], /http:\/\/ or https:\/\//],
    [['--prometheus', 'http://127.0.0.1:9', '--dir', dir, '-o', out, '--instance', 'h', '--from', 'now-1h', '--to', 'now'], /not more than one/],
  ]
  for (const [args, msg] of cases) {
    const r = memtrace(['render', ...args])
    t.equal(r.code, 1, args.join(' '))
    t.match(r.stderr, msg)
  }
})

/** memtrace in a child, without blocking this process (which serves the fake Prometheus). */
function memtraceAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise(ok => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    c.stderr.on('data', d => (stderr += d))
    c.once('close', code => ok({ code: code ?? -1, stderr }))
  })
}

/** A stand-in for Prometheus's HTTP API that answers every query with `result`; `auth` collects the Authorization headers. */
async function fakePrometheus(t: import('tap').Test, result: unknown[], auth: string[] = []): Promise<string> {
  const server = createServer((req, res) => {
    auth.push(String(req.headers.authorization))
    res.setHeader('content-type', 'application/json')
    if (req.url?.startsWith('/api/v1/targets')) res.end(JSON.stringify({ status: 'success', data: { activeTargets: [{ labels: { instance: 'h:9464' }, scrapeInterval: '5s' }] } }))
    else res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } }))
  })
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok))
  t.teardown(() => server.close())
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

t.test('a Prometheus that is down, has nothing, or would send too much: a clear message, no output', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'x.svg')
  const down = memtrace(['render', '--prometheus', 'http://me:s3cret@127.0.0.1:9', '--instance', 'h:9464', '--from', 'now-1h', '--to', 'now', '-o', out])
  t.equal(down.code, 2)
  t.match(down.stderr, /Prometheus at http:\/\/127\.0\.0\.1:9\/ did not answer/)
  t.notMatch(down.stderr, /s3cret/, 'a password in the URL is never printed')
  const auth: string[] = []
  const empty = await fakePrometheus(t, [], auth)
  const none = await memtraceAsync(['render', '--prometheus', empty.replace('http://', 'http://me:s3cret@'), '--instance', 'h:9464', '--from', 'now-1h', '--to', 'now', '-o', out])
  t.equal(none.code, 2)
  t.match(none.stderr, /has no memtrace series for instance "h:9464"/)
  t.ok(auth.length > 0 && auth.every(a => a === `Basic ${Buffer.from('me:s3cret').toString('base64')}`), 'the user and password went in the Authorization header')
  const many = await memtraceAsync(['render', '--prometheus', empty, '--instance', 'h:9464', '--from', 'now-30d', '--to', 'now', '-o', out])
  t.equal(many.code, 2)
  t.match(many.stderr, /518401 points at 5 s: memtrace draws at most 86401 a series from Prometheus \(a day at 1 s\)/)
  t.same(readdirSync(dir), [], 'nothing written')
})

/** A Prometheus whose answer to each query_range is made by `answer` from the query's start, end and step; `asked` collects them. */
async function answeringPrometheus(t: import('tap').Test, answer: (q: { metric: string; start: number; end: number; step: number }, res: import('node:http').ServerResponse) => void, asked: { metric: string; start: number; end: number }[] = []): Promise<string> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    res.setHeader('content-type', 'application/json')
    if (u.pathname === '/api/v1/targets') return void res.end(JSON.stringify({ status: 'success', data: { activeTargets: [{ labels: { instance: 'h:9464' }, scrapeInterval: '1s' }] } }))
    const q = { metric: (u.searchParams.get('query') ?? '').replace(/\{.*/, ''), start: Number(u.searchParams.get('start')), end: Number(u.searchParams.get('end')), step: Number(u.searchParams.get('step')) }
    asked.push(q)
    answer(q, res)
  })
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok))
  t.teardown(() => server.close())
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

const matrix = (result: unknown[]) => JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } })
/** Points of one series on the query's own grid: `value(t)` at each step from start to end. */
function grid(q: { start: number; end: number; step: number }, value: (t: number) => string): [number, string][] {
  const out: [number, string][] = []
  for (let t = q.start; t <= q.end + 1e-9; t += q.step) out.push([t, value(t)])
  return out
}
const T0 = Date.UTC(2026, 10, 23, 2, 0, 0) / 1000
const WINDOW = ['--from', String(T0), '--to', String(T0 + 600), '--step', '5', '--tz', 'UTC', '-q']

t.test('an answer past the size cap is read no further, and the render says why and writes nothing', async t => {
  const dir = t.testdir({})
  let sent = 0
  const url = await answeringPrometheus(t, (_q, res) => {
    // An endless body: 1 GB would do the same, this stops when memtrace does.
    const chunk = Buffer.alloc(1 << 20, 0x20)
    const more = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length
      if (!res.destroyed) res.once('drain', more)
    }
    res.on('close', () => undefined)
    more()
  })
  const r = await memtraceAsync(['render', '--prometheus', url, '--instance', 'h:9464', ...WINDOW, '-o', join(dir, 'x.svg')])
  t.equal(r.code, 2)
  t.match(r.stderr, /the answer went past the 64 MiB memtrace reads/)
  t.notMatch(r.stderr, /internal error|at .*\.js:\d+/, 'no stack trace')
  t.ok(sent < 200 * 2 ** 20, `the server could send no more than the cap and its buffers (${(sent / 2 ** 20).toFixed(0)} MiB)`)
  t.same(readdirSync(dir), [], 'nothing written')
})

t.test('more points than the steps hold, times that are not numbers or lie outside the window: an error naming the metric, no stack trace', async t => {
  const dir = t.testdir({})
  const cases: [string, (q: { start: number; end: number; step: number }) => unknown[], RegExp][] = [
    ['a million points', q => Array.from({ length: 1_000_000 }, (_, i) => [q.start + i * 0.001, '1']), /answered 1000000 points of memtrace_process_resident_bytes .*more than the 121 its 5 s steps hold/],
    ['null time', q => [[null, '1'], ...grid(q, () => '1').slice(1)], /a time that is not a number in memtrace_process_resident_bytes: null/],
    ['"x" time', () => [['x', '1']], /a time that is not a number in memtrace_process_resident_bytes: "x"/],
    ['1e300 time', () => [[1e300, '1']], /a point of memtrace_process_resident_bytes at 1e\+300 s, outside the 2026-11-23T02:00:00Z – 2026-11-23T02:10:00Z asked for/],
    ['a day late', q => grid(q, () => '1').map(([t, v]) => [t + 86400, v]), /outside the .* asked for/],
  ]
  for (const [what, values, msg] of cases) {
    const url = await answeringPrometheus(t, (q, res) => res.end(matrix(q.metric === 'memtrace_process_resident_bytes' ? [{ metric: { role: 'server' }, values: values(q) }] : [])))
    const r = await memtraceAsync(['render', '--prometheus', url, '--instance', 'h:9464', ...WINDOW, '-o', join(dir, 'x.svg')])
    t.equal(r.code, 2, what)
    t.match(r.stderr, msg, what)
    t.notMatch(r.stderr, /internal error|RangeError/, `${what}: no stack trace`)
  }
  t.same(readdirSync(dir), [], 'nothing written')
})

t.test("Prometheus's own error text reaches the terminal without its escapes", async t => {
  const url = await answeringPrometheus(t, (_q, res) => res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'boom\u001b]0;owned\u0007\u001b[2J' })))
  const r = await memtraceAsync(['render', '--prometheus', url, '--instance', 'h:9464', ...WINDOW, '-o', join(t.testdir({}), 'x.svg')])
  t.equal(r.code, 2)
  t.match(r.stderr, /Prometheus: boom\uFFFD\]0;owned\uFFFD\uFFFD\[2J/)
  t.notOk(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stderr), 'no control character printed')
})

/** A small host, as a daemon before the metrics were renamed exported it (memtrace_system_memory_bytes by kind, ollama_*): the server and one runner whose model label is `model`, on the query's grid. */
function host(model: string, runnerPid = '4412'): (q: { metric: string; start: number; end: number; step: number }, res: import('node:http').ServerResponse) => void {
  return (q, res) => {
    const at = (v: (t: number) => string) => grid(q, v)
    const series: Record<string, unknown[]> = {
      memtrace_process_resident_bytes: [{ metric: { role: 'server' }, values: at(() => String(300 * 2 ** 20)) }, { metric: { role: 'runner', model }, values: at(() => String(5 * 2 ** 30)) }],
      memtrace_runner_info: [{ metric: { model, pid: runnerPid, digest: 'abc' }, values: at(() => '1') }],
      memtrace_system_memory_bytes: [
        { metric: { kind: 'total' }, values: at(() => String(32 * 2 ** 30)) },
        { metric: { kind: 'available' }, values: at(() => String(20 * 2 ** 30)) },
        { metric: { kind: 'free' }, values: at(() => String(10 * 2 ** 30)) },
      ],
      memtrace_gpu_memory_bytes: [
        { metric: { gpu: '0\nmemtrace oom-kill {}', kind: 'used' }, values: at(() => String(2 ** 30)) },
        { metric: { gpu: '0\nmemtrace oom-kill {}', kind: 'total' }, values: at(() => String(8 * 2 ** 30)) },
      ],
      ollama_up: [{ metric: {}, values: at(() => '1') }],
      ollama_model_size_bytes: [{ metric: { model }, values: at(() => String(5 * 2 ** 30)) }],
    }
    res.end(matrix(series[q.metric] ?? []))
  }
}

t.test('a label with a newline or tab adds no row and no line to the trace: it is drawn with the damage shown', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'x.svg')
  const url = await answeringPrometheus(t, host('evil\n2026-11-23 02:00:00\t1\t0\tollama\t99999999\t0\tollama runner --model x:1b'))
  const r = await memtraceAsync(['render', '--prometheus', url, '--instance', 'h:9464', ...WINDOW.filter(a => a !== '-q'), '-o', out, '--json'])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /skipped|unrecognised|damaged/i, 'every line of the trace written from it reads back')
  const svg = readFileSync(out, 'utf8')
  t.match(svg, /data-model="evil\uFFFD2026-11-23/, 'one runner, its name with the newline and tabs shown as damage')
  t.notMatch(svg, /data-model="x:1b"/, 'no second runner made from the label')
  t.equal(svg.match(/class="rss-line"[^>]*data-role="runner"/g)?.length, 1, 'one runner line')
  t.notMatch(svg, /95\.4 GiB/, "and no RSS of the label's making")
  t.notMatch(svg, /orphan/, 'the runner and its listing keep one name')
  t.notMatch(svg, /data-series="gpu-used"/, 'a GPU label that is not an index is left out, not written as lines')
})

t.test('a window longer than one answer is asked in chunks and drawn whole: 4 hours at 1 s', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'x.svg')
  const asked: { metric: string; start: number; end: number }[] = []
  const url = await answeringPrometheus(t, host('llama3.2:3b'), asked)
  const r = await memtraceAsync(['render', '--prometheus', url, '--instance', 'h:9464', '--from', String(T0), '--to', String(T0 + 4 * 3600), '--step', '1', '--tz', 'UTC', '-o', out, '--json'])
  t.equal(r.code, 0, r.stderr)
  const rss = asked.filter(q => q.metric === 'memtrace_process_resident_bytes')
  t.same(rss.map(q => [q.start - T0, q.end - T0]), [[0, 9999], [10000, 14400]], 'two chunks of at most 10,000 points, none overlapping, the whole window')
  t.match(readFileSync(out, 'utf8'), /02:00 – 06:00 UTC \(4 h 00 min\)/, 'the chart spans the four hours')
})
