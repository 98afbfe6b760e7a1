/**
 * `--metrics-web-config`: Prometheus's web-config files (fixtures/web-config,
 * whose README says where each comes from) read as Prometheus reads them,
 * what memtrace does not apply refused by name, no hash ever in a message;
 * and the basic authentication checked against the files' real hashes, each
 * right password checked with bcrypt once, a flood of wrong ones within a
 * budget.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { BasicAuth, basicCredentials, CHECK_BUDGET_MS, CHECKS_PER_WINDOW, MAX_CHECKS_AT_ONCE } from '../metrics-auth.js'
import { parseWebConfig, WebConfigError } from '../metrics-web-config.js'
import { ROOT } from './helpers.js'

const DIR = join(ROOT, 'daemon', 'test', 'fixtures', 'web-config')
const fixture = (name: string) => readFileSync(join(DIR, name), 'utf8')
const GUIDE_HASH = '$2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay'
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
const refused = (text: string) => {
  try {
    parseWebConfig(text, '/etc/memtrace', 'web.yml')
  } catch (e) {
    if (e instanceof WebConfigError) return e.message
    throw e
  }
  return 'accepted'
}

t.test("Prometheus's own files: the guide's, htpasswd's $2y$, the exporter toolkit's TLS layout", async t => {
  t.same([...parseWebConfig(fixture('prometheus-guide.yml'), DIR, 'g').users], [['admin', GUIDE_HASH]])
  t.same(parseWebConfig(fixture('prometheus-guide.yml'), DIR, 'g').tls, undefined, 'no TLS asked')
  t.equal(parseWebConfig(fixture('htpasswd-2y.yml'), DIR, 'h').users.get('admin')?.slice(0, 7), '$2y$12$')
  const tls = parseWebConfig(fixture('exporter-tls.yml'), '/etc/prometheus', 'e')
  t.same(tls.tls, { certFile: '/etc/prometheus/metrics.crt', keyFile: '/etc/prometheus/metrics.key', minVersion: 'TLSv1.2' }, 'paths relative to the file, as the toolkit resolves them')
  t.same(parseWebConfig('tls_server_config:\n  cert_file: /a/c.pem\n  key_file: k.pem\n', '/b', 'x').tls, { certFile: '/a/c.pem', keyFile: '/b/k.pem' })
  t.same(parseWebConfig('', DIR, 'empty').users.size, 0, 'an empty file asks for nothing, as in Prometheus')
  t.same(parseWebConfig('basic_auth_users:\n', DIR, 'e').users.size, 0)
  // Prometheus's own checker takes the same files (the TLS one needs its certificate, which the e2e test makes).
  const promtool = spawnSync('promtool', ['check', 'web-config', join(DIR, 'prometheus-guide.yml'), join(DIR, 'htpasswd-2y.yml')], { encoding: 'utf8' })
  t.equal(promtool.status, 0, `promtool check web-config: ${promtool.stdout}${promtool.stderr}`)
})

t.test('refused by name: unknown keys, what memtrace does not apply, hashes that are not bcrypt, bad YAML; no hash in any message', async t => {
  t.match(refused('basic_auth_user:\n  a: x\n'), /unknown key "basic_auth_user"/)
  t.match(refused('tls_server_config:\n  cert_file: c\n  key_file: k\n  certfile: c\n'), /unknown key "tls_server_config.certfile"/)
  t.match(refused('rate_limit:\n  interval: 1s\n  burst: 5\n'), /does not apply rate_limit \(a rate limit\)/)
  t.match(refused('tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n'), /tls_server_config.client_ca_file \(client certificates\), tls_server_config.cipher_suites/)
  t.match(refused('tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n'), /does not check client certificates/)
  t.equal(refused('tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: NoClientCert\n'), 'accepted')
  t.match(refused('http_server_config:\n  headers:\n    X-Frame-Options: deny\n'), /http_server_config.headers \(extra response headers\)/)
  t.match(refused('tls_server_config:\n  cert_file: c\n'), /a certificate needs its key/)
  t.match(refused('tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS10\n'), /expected TLS12 or TLS13, got "TLS10"/)
  const secrets = ['plain-text-password', '$apr1$O6uXqOSh$3i/e/4Kh6ZvgQz8aDNWbU0', '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g', '$2x$10$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ']
  for (const s of secrets) {
    const msg = refused(`basic_auth_users:\n  alice: '${s}'\n`)
    t.match(msg, /the password of "alice" is not a bcrypt hash \(\$2a\$, \$2b\$ or \$2y\$/, s.slice(0, 6))
    t.notOk(msg.includes(s), 'the value is not in the message')
  }
  const yamlError = refused(`basic_auth_users:\n  alice: ${GUIDE_HASH}\n   bob: x: y\n`)
  t.match(yamlError, /^web.yml: not valid YAML at line \d+, column \d+ \(\w+\)$/)
  t.notOk(yamlError.includes('$2b$'), "the parser's quoted line, which holds a hash, is left out")
  t.match(refused(`basic_auth_users:\n  alice: ${GUIDE_HASH}\n  alice: ${GUIDE_HASH}\n`), /not valid YAML .*DUPLICATE_KEY/)
  t.match(refused('- a\n- b\n'), /the file must be a mapping/)
})

t.test('Basic credentials as clients send them', async t => {
  t.same(basicCredentials(basic('admin', 'te:st')), { user: 'admin', password: 'te:st' }, 'the password may hold a colon')
  t.same(basicCredentials('basic YWRtaW46dGVzdA=='), { user: 'admin', password: 'test' })
  t.equal(basicCredentials('Bearer abc'), undefined)
  t.equal(basicCredentials(undefined), undefined)
  t.equal(basicCredentials('Basic bm9jb2xvbg=='), undefined, 'no colon: not credentials')
})

t.test("the real hashes: the right password passes, once checked with bcrypt; a wrong one, an unknown user and no header do not", async t => {
  let checks = 0
  const users = new Map([['admin', GUIDE_HASH], ['ops', parseWebConfig(fixture('htpasswd-2y.yml'), DIR, 'h').users.get('admin') as string]])
  // A clock that stands still: the budget (its own test below) never runs out here.
  const auth = new BasicAuth(users, { now: () => 0, compare: (p, h) => (checks++, bcrypt.compare(p, h)) })
  t.ok(auth.required)
  t.equal(await auth.check(basic('admin', 'test')), 'ok')
  t.equal(await auth.check(basic('ops', '123456')), 'ok', "htpasswd's $2y$")
  for (let i = 0; i < 5; i++) t.equal(await auth.check(basic('admin', 'test')), 'ok')
  t.equal(checks, 2, 'each right pair checked with bcrypt once, then known by its digest')
  t.equal(await auth.check(basic('admin', 'Test')), 'denied')
  t.equal(await auth.check(basic('ops', 'test')), 'denied', "one user's password is not another's")
  t.equal(await auth.check(basic('nobody', 'test')), 'denied', 'an unknown user')
  t.equal(checks, 5, 'an unknown user is checked against a hash too, so the answer takes as long')
  t.equal(await auth.check(undefined), 'denied')
  t.equal(await auth.check('Basic !!!'), 'denied')
  t.equal(checks, 5, 'no header, no check')
  t.notOk(new BasicAuth(new Map()).required, 'no users: no authentication')
})

t.test('a flood of wrong passwords: at most two checks at once, and a budget of check time per window; known credentials still pass', async t => {
  let clock = 0
  const pending: (() => void)[] = []
  let checks = 0
  const auth = new BasicAuth(new Map([['admin', GUIDE_HASH]]), {
    now: () => clock,
    compare: (p) => new Promise(ok => pending.push(() => ok((checks++, p === 'test')))),
  })
  const right = auth.check(basic('admin', 'test'))
  pending.shift()?.()
  t.equal(await right, 'ok')
  const flood = Array.from({ length: 10 }, (_, i) => auth.check(basic('admin', `guess${i}`)))
  const answered = await Promise.race([Promise.all(flood.slice(MAX_CHECKS_AT_ONCE)), new Promise(r => setTimeout(() => r('waiting'), 200))])
  t.same(answered, Array(10 - MAX_CHECKS_AT_ONCE).fill('busy'), 'beyond two at once: 429 at once, no check')
  clock += CHECK_BUDGET_MS + 1 // the two running checks take more than the window's budget
  for (const f of pending.splice(0)) f()
  t.same(await Promise.all(flood.slice(0, MAX_CHECKS_AT_ONCE)), ['denied', 'denied'])
  t.equal(CHECKS_PER_WINDOW, 3, 'the right one and these two: the checks every window allows')
  t.equal(await auth.check(basic('admin', 'other')), 'busy', 'the budget is spent: no more checks in this window')
  t.equal(await auth.check(basic('admin', 'test')), 'ok', 'a scraper already known is still served')
  t.equal(checks, 3)
  clock += 10_001
  const later = auth.check(basic('admin', 'again'))
  pending.shift()?.()
  t.equal(await later, 'denied', 'a new window: checked again')
})

t.test('a costly hash: a check that takes the whole budget still leaves the window its three checks, so one wrong password does not lock a scraper out', async t => {
  let clock = 0
  const auth = new BasicAuth(new Map([['admin', GUIDE_HASH]]), {
    now: () => clock,
    compare: async p => ((clock += 1500), p === 'test'),
  })
  t.equal(await auth.check(basic('admin', 'wrong')), 'denied', '1.5 s: past the budget alone')
  t.equal(await auth.check(basic('admin', 'test')), 'ok', 'the scraper still gets its check')
  t.equal(await auth.check(basic('admin', 'wrong2')), 'denied', 'a third check')
  t.equal(await auth.check(basic('admin', 'wrong3')), 'busy', 'then 429 until the window moves on')
  t.equal(await auth.check(basic('admin', 'test')), 'ok', 'the known scraper is served all along')
})
