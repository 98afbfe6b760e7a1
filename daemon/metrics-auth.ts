/**
 * Basic authentication for `--metrics`, against the bcrypt hashes of
 * Prometheus's web-config file. A bcrypt check costs tens of milliseconds of
 * the thread that also samples, so:
 *
 * - a check that succeeded is remembered by the SHA-256 of the user and
 *   password (never the password itself), and a scrape every second pays
 *   for it once;
 * - at most `MAX_CHECKS_AT_ONCE` checks run at once, and past the first
 *   `CHECKS_PER_WINDOW` of every `CHECK_WINDOW_MS` they may take at most
 *   `CHECK_BUDGET_MS` of it: beyond, the request is answered 429 without a
 *   check, so a flood of wrong passwords costs the daemon a tenth of a core
 *   (three checks' worth where one costs more), not all of it.
 *
 * A user name that is not listed is checked against a listed user's hash,
 * so that the time of the answer does not say which names exist; credentials
 * are compared by their digests, in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import bcrypt from 'bcryptjs'

export const MAX_CHECKS_AT_ONCE = 2
/** Time the bcrypt checks may take in each window: 10 % of a core… */
export const CHECK_BUDGET_MS = 1_000
export const CHECK_WINDOW_MS = 10_000
/** …but this many checks in each window whatever they cost, so that a costly hash (cost 12: about a second on a busy host) still lets a scraper in after a wrong password. */
export const CHECKS_PER_WINDOW = 3
/** Successful credentials remembered; a fleet has one or two scrapers per host. */
export const REMEMBERED = 16

export type Verdict = 'ok' | 'denied' | 'busy'

export class BasicAuth {
  #users: Map<string, string>
  /** Digests of credentials that passed, oldest first. */
  #passed: Buffer[] = []
  #running = 0
  /** When each recent check ended, and what it cost. */
  #spent: { endMs: number; ms: number }[] = []
  /** A listed user's hash, checked for names not listed: the answer comes no faster for them. */
  #stand: string | undefined
  readonly #now: () => number
  readonly #compare: (password: string, hash: string) => Promise<boolean>

  /** `users`: name → bcrypt hash. `now` and `compare`: the clock and bcrypt's check, for tests that count them. */
  constructor(users: Map<string, string>, opts: { now?: () => number; compare?: (password: string, hash: string) => Promise<boolean> } = {}) {
    this.#users = users
    this.#now = opts.now ?? (() => performance.now())
    this.#compare = opts.compare ?? ((p, h) => bcrypt.compare(p, h))
    this.#stand = users.values().next().value
  }

  /** The users read again: what passed before is checked again. */
  replace(users: Map<string, string>): void {
    this.#users = users
    this.#stand = users.values().next().value
    this.#passed = []
  }

  /** Whether requests must authenticate at all. */
  get required(): boolean {
    return this.#users.size > 0
  }

  /** The verdict on a request's `Authorization` header. */
  async check(header: string | undefined): Promise<Verdict> {
    const creds = basicCredentials(header)
    if (!creds) return 'denied'
    const digest = createHash('sha256').update(creds.user).update('\u0000').update(creds.password).digest()
    let known = false
    for (const d of this.#passed) known = timingSafeEqual(d, digest) || known
    if (known) return 'ok'
    if (!this.#affordable()) return 'busy'
    this.#running++
    const started = this.#now()
    let ok = false
    try {
      const hash = this.#users.get(creds.user)
      const against = hash ?? this.#stand
      ok = against !== undefined && (await this.#compare(creds.password, against)) && hash !== undefined
    } finally {
      this.#running--
      const end = this.#now()
      this.#spent.push({ endMs: end, ms: end - started })
    }
    if (!ok) return 'denied'
    this.#passed = [...this.#passed.filter(d => !timingSafeEqual(d, digest)), digest].slice(-REMEMBERED)
    return 'ok'
  }

  /** Whether another check fits: fewer than MAX_CHECKS_AT_ONCE running, and the window's budget not spent. */
  #affordable(): boolean {
    if (this.#running >= MAX_CHECKS_AT_ONCE) return false
    const since = this.#now() - CHECK_WINDOW_MS
    this.#spent = this.#spent.filter(s => s.endMs > since)
    return this.#spent.length < CHECKS_PER_WINDOW || this.#spent.reduce((a, s) => a + s.ms, 0) < CHECK_BUDGET_MS
  }
}

/** `Basic base64(user:password)` → its parts; undefined for anything else. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header ?? '')
  if (!m) return undefined
  const text = Buffer.from(m[1] as string, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon < 0) return undefined
  return { user: text.slice(0, colon), password: text.slice(colon + 1) }
}

/** Answers 401 (with the challenge) or 429 before `next` sees a request that did not authenticate. */
export async function guard(auth: BasicAuth, req: IncomingMessage, res: ServerResponse, next: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> {
  let verdict: Verdict
  try {
    verdict = await auth.check(req.headers.authorization)
  } catch {
    verdict = 'denied'
  }
  if (verdict === 'ok') return next(req, res)
  if (res.destroyed) return
  if (verdict === 'busy') {
    res.writeHead(429, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' })
    res.end('too many password checks at once: try again\n')
    return
  }
  res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Basic realm="memtrace", charset="UTF-8"' })
  res.end('unauthorized\n')
}
