/**
 * Who may read `--metrics`, and over what: the certificate and key
 * (`--metrics-tls-cert`/`--metrics-tls-key`, or the web-config file's
 * `tls_server_config`) and the users of `basic_auth_users`. Everything is
 * read and checked when the start is parsed, before the daemon makes a
 * folder or a file, so a bad file refuses the start and leaves nothing.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import type { MetricsAddress } from './metrics-address.js'
import { parseWebConfig, WebConfigError } from './metrics-web-config.js'

/** What the options name; paths as given. */
export interface MetricsAccessOptions {
  tlsCert?: string
  tlsKey?: string
  webConfig?: string
}

/** What the listener needs: the PEM texts, checked to be a pair, and the users. */
export interface MetricsAccess {
  tls?: { cert: Buffer; key: Buffer; minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }
  /** User name → bcrypt hash; empty when no one has to authenticate. */
  users: Map<string, string>
  /** The files read again (SIGHUP: a renewed certificate, a changed user), checked as at the start. */
  reread: () => MetricsAccess
}

export class MetricsAccessError extends Error {}

/** Whether only this host can reach `host`: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h)
}

/** Reads and checks the files the options name; `undefined` when none is named. */
export function readMetricsAccess(opts: MetricsAccessOptions, at: MetricsAddress | undefined): MetricsAccess | undefined {
  const named = [opts.tlsCert && '--metrics-tls-cert', opts.tlsKey && '--metrics-tls-key', opts.webConfig && '--metrics-web-config'].filter(Boolean)
  if (named.length === 0) return undefined
  if (!at) throw new MetricsAccessError(`${named.join(' and ')} ${named.length > 1 ? 'need' : 'needs'} --metrics`)
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new MetricsAccessError('give both --metrics-tls-cert and --metrics-tls-key, or neither')
  let users = new Map<string, string>()
  let certPem: Buffer | undefined
  let keyPem: Buffer | undefined
  let versions: Pick<NonNullable<MetricsAccess['tls']>, 'minVersion' | 'maxVersion'> = {}
  if (opts.webConfig !== undefined) {
    const file = resolve(opts.webConfig)
    const web = parse(read(file, '--metrics-web-config'), file)
    users = web.users
    if (web.tls && opts.tlsCert !== undefined) throw new MetricsAccessError(`--metrics-tls-cert and --metrics-tls-key, and tls_server_config in ${file}: give the certificate in one place`)
    if (web.tls) {
      certPem = web.tls.cert !== undefined ? Buffer.from(web.tls.cert) : read(web.tls.certFile as string, `${file}: tls_server_config.cert_file`)
      keyPem = web.tls.key !== undefined ? Buffer.from(web.tls.key) : read(web.tls.keyFile as string, `${file}: tls_server_config.key_file`)
      versions = { ...(web.tls.minVersion ? { minVersion: web.tls.minVersion } : {}), ...(web.tls.maxVersion ? { maxVersion: web.tls.maxVersion } : {}) }
    }
  }
  if (opts.tlsCert !== undefined && opts.tlsKey !== undefined) {
    certPem = read(resolve(opts.tlsCert), '--metrics-tls-cert')
    keyPem = read(resolve(opts.tlsKey), '--metrics-tls-key')
  }
  const tls = certPem && keyPem ? { cert: certPem, key: keyPem, ...versions } : undefined
  if (tls) checkPair(tls)
  // Basic authentication sends the password with every scrape: in clear text, anyone on the path reads it.
  if (!tls && users.size > 0 && !isLoopback(at.host)) {
    throw new MetricsAccessError(`--metrics ${at.host}: basic_auth_users without TLS would send every password in clear text over the network; add tls_server_config (or --metrics-tls-cert and --metrics-tls-key), or listen on loopback behind a proxy that has TLS`)
  }
  return { ...(tls ? { tls } : {}), users, reread: () => readMetricsAccess(opts, at) as MetricsAccess }
}

function parse(text: Buffer, file: string) {
  try {
    return parseWebConfig(text.toString('utf8'), dirname(file), file)
  } catch (e) {
    if (e instanceof WebConfigError) throw new MetricsAccessError(e.message)
    throw e
  }
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (e) {
    throw new MetricsAccessError(`${what}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
}

/** OpenSSL's verdict on the pair: a certificate that is not PEM, a key that is not, or a key that is not the certificate's. */
function checkPair(tls: NonNullable<MetricsAccess['tls']>): void {
  try {
    createSecureContext(tls)
  } catch (e) {
    const why = String((e as Error).message)
    const said = /key values mismatch/i.test(why)
      ? 'the key is not the certificate\'s (they do not match)'
      : /PEM|no start line|bad end line|bad base64|DECODER|ASN1/i.test(why)
        ? 'the certificate or the key is not PEM text (-----BEGIN …-----)'
        : why
    throw new MetricsAccessError(`the metrics' TLS certificate and key cannot be used: ${said}`)
  }
}
