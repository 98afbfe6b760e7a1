/**
 * Prometheus's web-config file (`prometheus --web.config.file`, node_exporter
 * `--web.config.file`), read for `memtrace start --metrics-web-config FILE`,
 * so that one file serves a fleet's exporters alike. memtrace takes the part
 * of it that protects a scrape: the server's certificate and key, and the
 * users with their bcrypt hashes. A key that would change what is allowed
 * (client certificates, cipher lists, rate limits) is refused by name rather
 * than silently ignored. Pure: the YAML text in, the settings out; no
 * message ever holds a hash or a line of the file.
 */
import { createRequire } from 'node:module'
import { isAbsolute, join } from 'node:path'
import type { parseDocument as ParseDocument } from 'yaml'

/** Loaded when a web-config file is named: every other start is spared the YAML parser. */
const parseDocument: typeof ParseDocument = (...args) => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parseDocument(...args)

export class WebConfigError extends Error {}

export interface WebConfig {
  tls?: {
    /** Paths, resolved against the file's folder as Prometheus's own exporters do. */
    certFile?: string
    keyFile?: string
    /** PEM text given inline (`cert`, `key`). */
    cert?: string
    key?: string
    minVersion?: 'TLSv1.2' | 'TLSv1.3'
    maxVersion?: 'TLSv1.2' | 'TLSv1.3'
  }
  /** User name → bcrypt hash; empty: no authentication, as in Prometheus. */
  users: Map<string, string>
}

/** The bcrypt hashes Prometheus accepts (Go's x/crypto/bcrypt: `$2a$`, `$2b$`, `$2y$`), cost 4 to 31. */
export const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/

const TOP = new Set(['tls_server_config', 'basic_auth_users', 'http_server_config'])
const TLS = new Set(['cert_file', 'key_file', 'cert', 'key', 'min_version', 'max_version', 'client_auth_type'])
/** Keys Prometheus knows that memtrace does not apply: each would allow or check less than the file says. */
const UNSUPPORTED: Record<string, string> = {
  rate_limit: 'a rate limit',
  client_ca_file: 'client certificates',
  client_ca: 'client certificates',
  client_allowed_sans: 'client certificates',
  cipher_suites: 'a cipher list',
  curve_preferences: 'a curve list',
  prefer_server_cipher_suites: 'a cipher order',
  headers: 'extra response headers',
}
const VERSIONS = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const

/** Reads the file's text; `dir` is its folder, for relative paths; `name` names it in messages. */
export function parseWebConfig(text: string, dir: string, name: string): WebConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true })
  const problem = doc.errors[0]
  // The parser's own message quotes the line, which can hold a hash: only where and what.
  if (problem) throw new WebConfigError(`${name}: not valid YAML${problem.linePos ? ` at line ${problem.linePos[0].line}, column ${problem.linePos[0].col}` : ''} (${problem.code})`)
  const root: unknown = doc.toJS() ?? {}
  const top = mapping(root, name, 'the file')
  refuseKeys(top, TOP, name, '')
  const users = new Map<string, string>()
  const listed = top.basic_auth_users === null || top.basic_auth_users === undefined ? {} : mapping(top.basic_auth_users, name, 'basic_auth_users')
  for (const [user, hash] of Object.entries(listed)) {
    if (user === '' || user.includes(':')) throw new WebConfigError(`${name}: basic_auth_users: a user name must be non-empty and hold no ":" (Basic authentication splits at the first)`)
    if (typeof hash !== 'string' || !BCRYPT_HASH.test(hash)) {
      throw new WebConfigError(`${name}: basic_auth_users: the password of "${user}" is not a bcrypt hash ($2a$, $2b$ or $2y$ with a cost of 4 to 31), the only kind Prometheus's web config takes; make one with: htpasswd -nBC 10 "" | tr -d ':\\n'`)
    }
    users.set(user, hash)
  }
  if (top.http_server_config !== undefined && top.http_server_config !== null) {
    // http2 says whether Go may use HTTP/2; memtrace serves HTTP/1.1, which every Prometheus scrapes.
    refuseKeys(mapping(top.http_server_config, name, 'http_server_config'), new Set(['http2']), name, 'http_server_config.')
  }
  if (top.tls_server_config === undefined || top.tls_server_config === null) return { users }
  const t = mapping(top.tls_server_config, name, 'tls_server_config')
  refuseKeys(t, TLS, name, 'tls_server_config.')
  const text_ = (k: string): string | undefined => {
    const v = t[k]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'string' || v === '') throw new WebConfigError(`${name}: tls_server_config.${k} must be a non-empty string`)
    return v
  }
  const auth = text_('client_auth_type')
  if (auth !== undefined && auth !== 'NoClientCert') throw new WebConfigError(`${name}: tls_server_config.client_auth_type: memtrace does not check client certificates; only NoClientCert (the default) is accepted, not "${auth}"`)
  const version = (k: string) => {
    const v = text_(k)
    if (v === undefined) return undefined
    if (!(v in VERSIONS)) throw new WebConfigError(`${name}: tls_server_config.${k}: expected TLS12 or TLS13, got "${v}"`)
    return VERSIONS[v as keyof typeof VERSIONS]
  }
  const at = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : join(dir, p))
  const tls: NonNullable<WebConfig['tls']> = {}
  const put = <K extends keyof typeof tls>(k: K, v: (typeof tls)[K] | undefined) => {
    if (v !== undefined) tls[k] = v
  }
  put('certFile', at(text_('cert_file')))
  put('keyFile', at(text_('key_file')))
  put('cert', text_('cert'))
  put('key', text_('key'))
  put('minVersion', version('min_version'))
  put('maxVersion', version('max_version'))
  if (tls.certFile !== undefined && tls.cert !== undefined) throw new WebConfigError(`${name}: tls_server_config: give cert_file or cert, not both`)
  if (tls.keyFile !== undefined && tls.key !== undefined) throw new WebConfigError(`${name}: tls_server_config: give key_file or key, not both`)
  const hasCert = tls.certFile !== undefined || tls.cert !== undefined
  const hasKey = tls.keyFile !== undefined || tls.key !== undefined
  if (hasCert !== hasKey) throw new WebConfigError(`${name}: tls_server_config: a certificate needs its key and a key its certificate (cert_file and key_file)`)
  if (tls.minVersion === 'TLSv1.3' && tls.maxVersion === 'TLSv1.2') throw new WebConfigError(`${name}: tls_server_config: min_version is above max_version`)
  if (!hasCert) {
    if (Object.keys(tls).length > 0) throw new WebConfigError(`${name}: tls_server_config has no cert_file and key_file`)
    return { users }
  }
  return { tls, users }
}

function mapping(v: unknown, name: string, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WebConfigError(`${name}: ${what} must be a mapping of keys to values`)
  return v as Record<string, unknown>
}

function refuseKeys(m: Record<string, unknown>, known: Set<string>, name: string, prefix: string): void {
  const unsupported = Object.keys(m).filter(k => k in UNSUPPORTED)
  if (unsupported.length > 0) throw new WebConfigError(`${name}: memtrace does not apply ${unsupported.map(k => `${prefix}${k} (${UNSUPPORTED[k]})`).join(', ')}; remove ${unsupported.length > 1 ? 'them' : 'it'} from the file memtrace reads`)
  const unknown = Object.keys(m).filter(k => !known.has(k))
  if (unknown.length > 0) throw new WebConfigError(`${name}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map(k => `"${prefix}${k}"`).join(', ')} (expected ${[...known].map(k => `${prefix}${k}`).join(', ')})`)
}
