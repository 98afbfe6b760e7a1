/**
 * `--metrics` under a flood of idle connections, with the descriptor limit of
 * a small service (64): the listener keeps at most its cap, closes idle and
 * half-sent connections after a few seconds, and the sampler keeps scanning
 * /proc every second, never failing with EMFILE.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connectionCap, METRICS_MAX_CONNECTIONS, openFileLimit, SAMPLER_RESERVE_FDS } from '../metrics-connections.js'
import { BIN, deadUrl, freePort, memtrace, read, sleep } from './helpers.js'

const series = (text: string, name: string) => Number(text.split('\n').find(l => l.startsWith(`${name} `))?.split(' ')[1] ?? 0)

t.test('the cap leaves the sampler its descriptors: never into the reserve, never above the cap, never none', async t => {
  t.equal(connectionCap(64, 25), 7, '64 − 25 open − 32 kept for the sampler')
  t.equal(connectionCap(20000, 25), METRICS_MAX_CONNECTIONS)
  t.equal(METRICS_MAX_CONNECTIONS, 64)
  t.equal(connectionCap(40, 30), 1, 'one at least, so that a scrape can be answered')
  t.equal(connectionCap(undefined, 25), METRICS_MAX_CONNECTIONS)
  t.equal(SAMPLER_RESERVE_FDS, 32)
  t.equal(openFileLimit('Limit                     Soft Limit           Hard Limit           Units\nMax open files            64                   64                   files\n'), 64, "Linux's /proc/self/limits")
  t.equal(openFileLimit('Max open files            unlimited            unlimited            files\n'), Number.POSITIVE_INFINITY)
})

/** `n` connections that send `send` (or nothing) and keep reading; each remembers whether the server closed it. */
function open(port: number, n: number, send = ''): { sockets: Socket[]; closed: () => number } {
  let closed = 0
  const sockets = Array.from({ length: n }, () => {
    const s = connect(port, '127.0.0.1')
    s.on('connect', () => send && s.write(send))
    s.on('data', () => undefined)
    s.on('error', () => undefined)
    s.on('close', () => closed++)
    return s
  })
  return { sockets, closed: () => closed }
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(url)
  t.equal(r.status, 200)
  return r.text()
}

t.test('200 idle connections at a limit of 64 descriptors: at most the cap held, all closed in seconds, every process sample taken', async t => {
  const dir = t.testdir({})
  const port = await freePort()
  const trace = join(dir, 'trace')
  const url = `http://127.0.0.1:${port}/metrics`
  // The limit a small service runs under; the daemon it starts keeps it.
  const started = spawnSync('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, BIN, 'start', '--dir', trace, '--metrics', `127.0.0.1:${port}`, '--system-interval', '1s', '--ollama-url', await deadUrl()], { encoding: 'utf8' })
  t.equal(started.status, 0, started.stderr)
  t.teardown(() => void memtrace(['stop', '--dir', trace]))
  await sleep(1500)
  const before = series(await scrape(url), 'memtrace_samples_total{kind="process"}')

  const flood = open(port, 200)
  const t0 = Date.now()
  // Past the cap, a connection is closed as it is accepted; the cap never reaches into the sampler's reserve.
  const most = 64 - SAMPLER_RESERVE_FDS
  while (flood.closed() < 200 - most && Date.now() - t0 < 10_000) await sleep(50)
  t.ok(flood.closed() >= 200 - most, `at most ${most} held: ${200 - flood.closed()} still open`)
  // Those held send nothing: they are closed by the header timeout (5 s), not kept for a minute.
  while (flood.closed() < 200 && Date.now() - t0 < 30_000) await sleep(100)
  t.equal(flood.closed(), 200, 'every idle connection was closed by the daemon')
  const during = Date.now() - t0

  const text = await scrape(url)
  const after = series(text, 'memtrace_samples_total{kind="process"}')
  t.ok(after - before >= Math.floor(during / 1000) - 2, `a process sample each second under the flood: ${after - before} in ${during} ms`)
  t.equal(series(text, 'memtrace_missed_ticks_total{kind="process"}'), 0, 'no tick missed')
  t.notMatch(read(join(trace, 'memtrace.log')), /EMFILE|process scan failed/, 'no scan failed for want of descriptors')
  // Stopped here, before the test's folder is removed (a teardown comes after that).
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
})

t.test('a kept-alive connection and one that never finishes its headers are closed after seconds', async t => {
  const dir = t.testdir({})
  const port = await freePort()
  const trace = join(dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--metrics', `127.0.0.1:${port}`, '--system-interval', '1s', '--ollama-url', await deadUrl()])
  t.equal(started.code, 0, started.stderr)
  t.teardown(() => void memtrace(['stop', '--dir', trace]))
  await sleep(1200)
  const kept = open(port, 1, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n')
  const partial = open(port, 1, 'GET /metrics HTTP/1.1\r\nHost: x\r\n')
  const t0 = Date.now()
  // Was 65 s for a kept-alive one, 60 s (checked every 30 s) for headers.
  while ((kept.closed() < 1 || partial.closed() < 1) && Date.now() - t0 < 30_000) await sleep(100)
  t.equal(kept.closed(), 1, 'the idle kept-alive connection was closed')
  t.equal(partial.closed(), 1, 'the connection that never finished its headers was closed')
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
})
