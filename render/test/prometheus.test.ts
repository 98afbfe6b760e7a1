/**
 * `render --prometheus`: its times and its refusals. The drawing itself is
 * tested against a real Prometheus in daemon/test/prometheus.e2e.test.ts.
 */
import t from 'tap'
import { createServer } from 'node:http'
import { readdirSync } from 'node:fs'
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
  t.match(many.stderr, /518400 points at 5 s: Prometheus answers at most 11000 a series/)
  t.same(readdirSync(dir), [], 'nothing written')
})
