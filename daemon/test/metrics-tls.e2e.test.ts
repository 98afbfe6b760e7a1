/**
 * `--metrics` beyond loopback: HTTPS with a certificate made here with
 * openssl, and the users of Prometheus's own web-config file. Debian's
 * Prometheus scrapes it as a fleet's would (`scheme: https`, `tls_config:
 * ca_file`, `basic_auth`): the target is up and memtrace's series arrive,
 * while a job with a wrong password is refused. Bad certificates, keys and
 * files refuse the start before anything is written.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { connect as connectTcp, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { SAMPLER_RESERVE_FDS } from '../metrics-connections.js'
import { BIN, deadUrl, freePort, memtrace, ROOT, sleep } from './helpers.js'

/**
 * A test's folder, whose daemons are stopped before it is removed: the
 * folder's own clean-up runs first otherwise, taking the lock that `stop`
 * needs with it, and the daemon would outlive the test.
 */
function folder(t: Test, files: Record<string, string> = {}): { dir: string; started: (trace: string) => void } {
  const traces: string[] = []
  t.teardown(() => {
    for (const trace of traces) memtrace(['stop', '--dir', trace])
  })
  return { dir: t.testdir(files), started: trace => void traces.push(trace) }
}

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

/** A self-signed certificate for 127.0.0.1 and its key; and a key of another pair. */
function makeCert(dir: string): { cert: string; key: string; otherKey: string } {
  const [cert, key, otherKey] = [join(dir, 'metrics.crt'), join(dir, 'metrics.key'), join(dir, 'other.key')]
  const req = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=memtrace metrics', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' })
  if (req.status !== 0) throw new Error(`openssl req: ${req.stderr}`)
  const other = spawnSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', otherKey], { encoding: 'utf8' })
  if (other.status !== 0) throw new Error(`openssl genpkey: ${other.stderr}`)
  return { cert, key, otherKey }
}

/** A GET over HTTPS trusting `ca` only. */
function get(url: string, ca: string, auth?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((ok, fail) => {
    // A connection of its own each time (no kept-alive one from before a SIGHUP).
    const req = request(url, { agent: false, ca: readFileSync(ca), headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', fail)
    req.end()
  })
}

async function targets(prom: string): Promise<{ labels: Record<string, string>; health: string; lastError: string; lastScrape: string }[]> {
  const body = (await (await fetch(`${prom}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string; lastScrape: string }[] } }
  return body.data.activeTargets
}

t.test("Debian's Prometheus scrapes over TLS with basic auth from a web-config file; a wrong password is refused", async t => {
  if (!have('prometheus') || !have('promtool')) {
    t.fail("Debian's prometheus is not installed: `make prometheus` installs it (apt-get install prometheus), and `make test` runs that first")
    return
  }
  const { dir, started: stopLater } = folder(t)
  const { cert } = makeCert(dir)
  // The exporter toolkit's layout: cert_file and key_file beside the file, the guide's user admin (password "test").
  const web = join(dir, 'web.yml')
  copyFileSync(join(ROOT, 'daemon', 'test', 'fixtures', 'web-config', 'exporter-tls.yml'), web)
  const check = spawnSync('promtool', ['check', 'web-config', web], { encoding: 'utf8' })
  t.equal(check.status, 0, `Prometheus's own checker takes the same file: ${check.stdout}${check.stderr}`)

  const [metricsPort, promPort] = [await freePort(), await freePort()]
  const trace = join(dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--ollama-url', await deadUrl(), '--metrics', `0.0.0.0:${metricsPort}`, '--metrics-web-config', web])
  t.equal(started.code, 0, started.stderr)
  stopLater(trace)
  t.match(started.stdout, `metrics: https://0.0.0.0:${metricsPort}/metrics`, 'the URL says https')
  const url = `https://127.0.0.1:${metricsPort}/metrics`

  const none = await get(url, cert)
  t.equal(none.status, 401, 'no credentials: 401')
  t.match(String(none.headers['www-authenticate']), /^Basic\b/, 'with the Basic challenge')
  t.notMatch(none.body, /memtrace_/, 'and no metrics')
  const wrong = await get(url, cert, 'admin:wrong')
  t.equal(wrong.status, 401, 'a wrong password: 401')
  t.notMatch(wrong.body, /memtrace_/)
  const right = await get(url, cert, 'admin:test')
  t.equal(right.status, 200)
  t.match(right.body, /^memtrace_samples_total\{kind="process"\} \d+/m)
  await t.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), 'plain HTTP gets no answer from the HTTPS port')

  const job = (name: string, password: string, interval: string, timeout: string) =>
    `  - job_name: ${name}\n    scrape_interval: ${interval}\n    scrape_timeout: ${timeout}\n    scheme: https\n    tls_config:\n      ca_file: ${cert}\n    basic_auth:\n      username: admin\n      password: ${password}\n    static_configs:\n      - targets: ['127.0.0.1:${metricsPort}']\n`
  // The wrong password every 5 s: each is a bcrypt check, which the daemon budgets; one of the guide's cost 12 can take over a second on a busy host.
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n${job('memtrace', 'test', '1s', '900ms')}${job('intruder', 'guess', '5s', '4s')}`)
  const lint = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' })
  t.equal(lint.status, 0, `promtool check config: ${lint.stdout}${lint.stderr}`)
  const prom = `http://127.0.0.1:${promPort}`
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' })
  t.teardown(() => prometheus.kill())
  for (let i = 0; i < 100 && !(await fetch(`${prom}/-/ready`).then(r => r.ok, () => false)); i++) await sleep(100)

  let seen: Awaited<ReturnType<typeof targets>> = []
  for (let i = 0; i < 150; i++) {
    seen = await targets(prom).catch(() => [])
    const ours = seen.find(x => x.labels.job === 'memtrace')
    const theirs = seen.find(x => x.labels.job === 'intruder')
    if (ours?.health === 'up' && theirs && theirs.health !== 'unknown') break
    await sleep(100)
  }
  const ours = seen.find(x => x.labels.job === 'memtrace')
  const theirs = seen.find(x => x.labels.job === 'intruder')
  t.equal(ours?.health, 'up', `the right password over TLS: up (${ours?.lastError ?? 'no target'})`)
  t.equal(theirs?.health, 'down', 'the wrong password: down')
  // 401, or 429 once the window's bcrypt budget is spent (on a busy machine one check of the guide's cost 12 can take most of it).
  t.match(theirs?.lastError ?? '', /^server returned HTTP status (401 Unauthorized|429 Too Many Requests)$/, `refused, past TLS: ${theirs?.lastError}`)

  await sleep(2500)
  const q = async (expr: string) => ((await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result
  const samples = await q('memtrace_samples_total{job="memtrace",kind="process"}')
  t.equal(samples.length, 1, 'a memtrace series arrived through TLS and basic auth')
  t.ok(Number(samples[0]?.value[1]) > 0, `process samples: ${samples[0]?.value[1]}`)
  t.same(await q('memtrace_samples_total{job="intruder"}'), [], 'none for the wrong password')
  t.equal((await q('up{job="intruder"}'))[0]?.value[1], '0')
})

t.test('--metrics-tls-cert and --metrics-tls-key: HTTPS without users', async t => {
  const { dir, started: stopLater } = folder(t)
  const { cert, key } = makeCert(dir)
  const port = await freePort()
  const trace = join(dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--ollama-url', await deadUrl(), '--metrics', `127.0.0.1:${port}`, '--metrics-tls-cert', cert, '--metrics-tls-key', key])
  t.equal(started.code, 0, started.stderr)
  stopLater(trace)
  const r = await get(`https://127.0.0.1:${port}/metrics`, cert)
  t.equal(r.status, 200)
  t.match(r.body, /^memtrace_samples_total/m)
  t.match(memtrace(['status', '--dir', trace]).stdout, `metrics: https://127.0.0.1:${port}/metrics`)
})

t.test('bad certificates, keys and files refuse the start with the reason, and leave nothing', async t => {
  const { dir } = folder(t)
  const { cert, key, otherKey } = makeCert(dir)
  const port = await freePort()
  const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name))
  const cases: [string, string[], RegExp][] = [
    ['a key of another pair', ['--metrics-tls-cert', cert, '--metrics-tls-key', otherKey], /the key is not the certificate's/],
    ['the key given as the certificate', ['--metrics-tls-cert', key, '--metrics-tls-key', key], /cannot be used/],
    ['a certificate that is not there', ['--metrics-tls-cert', join(dir, 'nope.crt'), '--metrics-tls-key', key], /--metrics-tls-cert: cannot read .*nope\.crt: ENOENT/],
    ['a certificate without its key', ['--metrics-tls-cert', cert], /give both --metrics-tls-cert and --metrics-tls-key/],
    ['an unknown key in the web config', ['--metrics-web-config', file('typo.yml', 'basic_auth_user:\n  admin: x\n')], /unknown key "basic_auth_user"/],
    ['a hash that is not bcrypt', ['--metrics-web-config', file('md5.yml', 'basic_auth_users:\n  admin: $apr1$O6uXqOSh$3i/e/4Kh6ZvgQz8aDNWbU0\n')], /not a bcrypt hash/],
    ['a web config whose certificate is not there', ['--metrics-web-config', file('tls.yml', 'tls_server_config:\n  cert_file: gone.crt\n  key_file: metrics.key\n')], /tls_server_config.cert_file: cannot read .*gone\.crt: ENOENT/],
    ['the certificate in two places', ['--metrics-web-config', file('both.yml', 'tls_server_config:\n  cert_file: metrics.crt\n  key_file: metrics.key\n'), '--metrics-tls-cert', cert, '--metrics-tls-key', key], /give the certificate in one place/],
  ]
  for (const [what, args, said] of cases) {
    const trace = join(dir, `trace-${cases.findIndex(c => c[0] === what)}`)
    const r = memtrace(['start', '--dir', trace, '--metrics', `127.0.0.1:${port}`, ...args])
    t.equal(r.code, 1, `${what}: refused`)
    t.match(r.stderr, said, what)
    t.notOk(existsSync(trace), `${what}: nothing written`)
  }
  const noMetrics = memtrace(['start', '--dir', join(dir, 'x'), '--metrics-tls-cert', cert, '--metrics-tls-key', key])
  t.match(noMetrics.stderr, /--metrics-tls-cert and --metrics-tls-key need --metrics/)
  const ran = memtrace(['run', '--dir', join(dir, 'run'), '--metrics', `127.0.0.1:${port}`, '--metrics-tls-cert', cert, '--metrics-tls-key', otherKey, '--', 'true'])
  t.not(ran.code, 0, 'memtrace run refuses the same')
  t.match(ran.stderr, /the key is not the certificate's/)
  t.notOk(existsSync(join(dir, 'run')))
})

t.test('basic auth in clear text beyond loopback is refused; on loopback (behind a proxy) it is served', async t => {
  const { dir, started: stopLater } = folder(t, { 'web.yml': readFileSync(join(ROOT, 'daemon', 'test', 'fixtures', 'web-config', 'prometheus-guide.yml'), 'utf8') })
  const port = await freePort()
  for (const host of ['0.0.0.0', '[::]', '192.0.2.7']) {
    const r = memtrace(['start', '--dir', join(dir, 'open'), '--metrics', `${host}:${port}`, '--metrics-web-config', join(dir, 'web.yml')])
    t.equal(r.code, 1, `${host}: refused`)
    t.match(r.stderr, /would send every password in clear text/)
    t.notOk(r.stderr.includes('$2b$'), 'the hash is never printed')
    t.notOk(existsSync(join(dir, 'open')))
  }
  const trace = join(dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--ollama-url', await deadUrl(), '--metrics', `127.0.0.1:${port}`, '--metrics-web-config', join(dir, 'web.yml')])
  t.equal(started.code, 0, started.stderr)
  stopLater(trace)
  const url = `http://127.0.0.1:${port}/metrics`
  const none = await fetch(url)
  t.equal(none.status, 401, 'no credentials: 401')
  t.match(none.headers.get('www-authenticate'), /^Basic\b/)
  const wrong = await fetch(url, { headers: { authorization: `Basic ${Buffer.from('admin:tset').toString('base64')}` } })
  t.equal(wrong.status, 401, 'a wrong password: 401, the first check of the window')
  t.match(wrong.headers.get('www-authenticate'), /^Basic\b/)
  t.notMatch(await wrong.text(), /memtrace_/)
  const ok = await fetch(url, { headers: { authorization: `Basic ${Buffer.from('admin:test').toString('base64')}` } })
  t.equal(ok.status, 200)
  t.match(await ok.text(), /^memtrace_samples_total/m)
  t.notOk(readFileSync(join(trace, 'memtrace.log'), 'utf8').includes('$2b$'), 'nothing of the file in the log')
})

t.test('over HTTPS the listener keeps its bounds: 200 connections that never shake hands at a limit of 64 descriptors, and one that shakes hands and sends nothing, are closed in seconds', async t => {
  const { dir, started: stopLater } = folder(t)
  const { cert, key } = makeCert(dir)
  const port = await freePort()
  const trace = join(dir, 'trace')
  const started = spawnSync('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, BIN, 'start', '--dir', trace, '--metrics', `127.0.0.1:${port}`, '--metrics-tls-cert', cert, '--metrics-tls-key', key, '--ollama-url', await deadUrl()], { encoding: 'utf8' })
  t.equal(started.status, 0, started.stderr)
  stopLater(trace)
  await sleep(1200)
  let closed = 0
  const track = (s: Socket) => {
    s.on('data', () => undefined)
    s.on('error', () => undefined)
    s.on('close', () => closed++)
    return s
  }
  const silent = Array.from({ length: 200 }, () => track(connectTcp(port, '127.0.0.1')))
  const shook = track(connectTls({ port, host: '127.0.0.1', ca: readFileSync(cert) }))
  const t0 = Date.now()
  const most = 64 - SAMPLER_RESERVE_FDS
  while (closed < 200 - most && Date.now() - t0 < 10_000) await sleep(50)
  t.ok(closed >= 200 - most, `at most ${most} held: ${201 - closed} still open`)
  // A handshake must end within 5 s, and a request come within 10 s.
  while (closed < 201 && Date.now() - t0 < 30_000) await sleep(100)
  t.equal(closed, 201, 'every silent connection was closed by the daemon')
  t.ok(silent.every(s => s.destroyed) && shook.destroyed)
  const r = await get(`https://127.0.0.1:${port}/metrics`, cert)
  t.equal(r.status, 200, 'and a scrape is answered after')
  t.notMatch(r.body, /^memtrace_missed_ticks_total\{kind="process"\} [1-9]/m, 'no tick missed')
  const samples = Number(/^memtrace_samples_total\{kind="process"\} (\d+)$/m.exec(r.body)?.[1])
  t.ok(samples >= Math.floor((Date.now() - t0) / 1000) - 2, `a process sample each second under the flood: ${samples}`)
})

t.test('SIGHUP reads the certificate, key and users again: a renewed certificate and a changed user serve the next connections; a broken file keeps the old ones', async t => {
  const { dir, started: stopLater } = folder(t)
  const old = makeCert(dir)
  const oldCa = join(dir, 'old-ca.crt')
  copyFileSync(old.cert, oldCa)
  // Hashes of bcrypt's lowest cost, so that the checks stay far within the daemon's budget for them.
  const web = join(dir, 'web.yml')
  const users = (name: string, password: string) => writeFileSync(web, `tls_server_config:\n  cert_file: metrics.crt\n  key_file: metrics.key\nbasic_auth_users:\n  ${name}: ${bcrypt.hashSync(password, 4)}\n`)
  users('admin', 'test')
  const port = await freePort()
  const trace = join(dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--ollama-url', await deadUrl(), '--metrics', `127.0.0.1:${port}`, '--metrics-web-config', web])
  t.equal(started.code, 0, started.stderr)
  stopLater(trace)
  const pid = Number(/started \(pid (\d+)\)/.exec(started.stdout)?.[1])
  const url = `https://127.0.0.1:${port}/metrics`
  t.equal((await get(url, oldCa, 'admin:test')).status, 200)

  // The certificate renewed in place, and the user changed.
  const renewed = makeCert(dir)
  users('ops', '123456')
  process.kill(pid, 'SIGHUP')
  await sleep(500)
  t.equal((await get(url, renewed.cert, 'ops:123456')).status, 200, 'the renewed certificate, the new user')
  t.equal((await get(url, renewed.cert, 'admin:test')).status, 401, 'the user no longer listed is refused')
  await t.rejects(get(url, oldCa, 'ops:123456'), 'the old certificate is no longer served')

  const newCa = join(dir, 'new-ca.crt')
  copyFileSync(renewed.cert, newCa)
  writeFileSync(renewed.cert, 'not a certificate\n')
  process.kill(pid, 'SIGHUP')
  await sleep(500)
  t.equal((await get(url, newCa, 'ops:123456')).status, 200, 'a broken certificate file: the one read before is still served…')
  const log = readFileSync(join(trace, 'memtrace.log'), 'utf8')
  t.match(log, /the metrics' certificate and users were not read again; the old ones are kept: the metrics' TLS certificate and key cannot be used/, '…it is logged, and the old ones kept')
  t.notMatch(log, /\$2[aby]\$/, 'no hash in the log')
})
