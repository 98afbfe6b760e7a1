import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_MATCH } from './select.js'
import { MetricsError, parseMetricsAddress, type MetricsAddress } from './metrics-address.js'
import type { LogOrigin } from './log-origin.js'
import { MetricsAccessError, readMetricsAccess, type MetricsAccess } from './metrics-access.js'

export interface DaemonConfig {
  dir: string
  intervalMs: number
  systemIntervalMs: number
  match: RegExp
  ollamaUrl: string
  foreground: boolean
  /** Set on the background child that `memtrace start` spawns. */
  daemonized: boolean
  /** Which sources to read: the real platform, or MEMTRACE_PLATFORM for tests. */
  platform: 'linux' | 'darwin' | 'win32'
  procRoot: string
  /** Where sysfs is mounted (amdgpu's memory files); /sys unless a test gives another. */
  sysRoot?: string
  /** `--metrics [HOST:]PORT`: serve Prometheus metrics there. */
  metrics?: MetricsAddress
  /** `--metrics-tls-cert`/`--metrics-tls-key`, `--metrics-web-config`: HTTPS and users, read and checked at the parse. */
  metricsAccess?: MetricsAccess
  /** `--metrics-runtime`: prom-client's metrics of memtrace's own process (process_*, nodejs_*) too. */
  metricsRuntime?: boolean
  /** `--server-log PATH` or `--server-log-cmd CMD`: where the server's log is; found by itself when absent. */
  serverLog?: LogOrigin
}

export class ConfigError extends Error {}

/** `1s`, `500ms`, `5` (seconds) → ms. */
export function parseDuration(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (!m) throw new ConfigError(`${name}: expected a duration such as 1s or 500ms, got "${text}"`)
  const v = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000)
  if (v < 100 || v > 3_600_000) throw new ConfigError(`${name} must be between 100ms and 1h`)
  return Math.round(v)
}

/** Ollama's own rule for OLLAMA_HOST: host[:port], scheme optional. */
export function ollamaUrlFromEnv(env: NodeJS.ProcessEnv): string {
  const host = env.OLLAMA_HOST?.trim()
  if (!host) return 'http://127.0.0.1:11434'
  const withScheme = /^[a-z]+:\/\//i.test(host) ? host : `http://${host}`
  const u = new URL(withScheme)
  if (!u.port) u.port = '11434'
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1'
  return u.origin
}

export const START_OPTIONS = {
  dir: { type: 'string', default: 'ollama-memtrace' },
  interval: { type: 'string', default: '1s' },
  'system-interval': { type: 'string', default: '5s' },
  match: { type: 'string', default: DEFAULT_MATCH },
  'ollama-url': { type: 'string' },
  metrics: { type: 'string' },
  'metrics-tls-cert': { type: 'string' },
  'metrics-tls-key': { type: 'string' },
  'metrics-web-config': { type: 'string' },
  'metrics-runtime': { type: 'boolean', default: false },
  'server-log': { type: 'string' },
  'server-log-cmd': { type: 'string' },
  foreground: { type: 'boolean', default: false },
  daemonized: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

export function parseStartArgs(argv: string[], env: NodeJS.ProcessEnv): DaemonConfig | 'help' {
  const { values, positionals } = parseArgs({ args: argv, options: START_OPTIONS, allowPositionals: true })
  if (values.help) return 'help'
  if (positionals.length) throw new ConfigError(`unexpected argument "${positionals[0]}"`)
  let match: RegExp
  try {
    match = new RegExp(values.match as string)
  } catch (e) {
    throw new ConfigError(`--match: ${(e as Error).message}`)
  }
  const intervalMs = parseDuration(values.interval as string, '--interval')
  const systemIntervalMs = parseDuration(values['system-interval'] as string, '--system-interval')
  let ollamaUrl: string
  try {
    ollamaUrl = values['ollama-url'] ? new URL(values['ollama-url']).origin : ollamaUrlFromEnv(env)
  } catch {
    throw new ConfigError(`--ollama-url: not a URL: ${values['ollama-url'] ?? env.OLLAMA_HOST}`)
  }
  let metrics: MetricsAddress | undefined
  try {
    if (values.metrics !== undefined) metrics = parseMetricsAddress(values.metrics as string)
  } catch (e) {
    if (e instanceof MetricsError) throw new ConfigError(e.message)
    throw e
  }
  let metricsAccess: MetricsAccess | undefined
  try {
    metricsAccess = readMetricsAccess({ tlsCert: values['metrics-tls-cert'], tlsKey: values['metrics-tls-key'], webConfig: values['metrics-web-config'] }, metrics)
  } catch (e) {
    if (e instanceof MetricsAccessError) throw new ConfigError(e.message)
    throw e
  }
  if (values['metrics-runtime'] && !metrics) throw new ConfigError('--metrics-runtime adds to --metrics: give --metrics [HOST:]PORT too')
  if (values['server-log'] !== undefined && values['server-log-cmd'] !== undefined) throw new ConfigError('give --server-log or --server-log-cmd, not both')
  const serverLog: LogOrigin | undefined =
    values['server-log'] !== undefined ? { file: resolve(values['server-log'] as string) } : values['server-log-cmd'] !== undefined ? { command: [values['server-log-cmd'] as string], shell: true } : undefined
  const wanted = env.MEMTRACE_PLATFORM ?? process.platform
  if (wanted !== 'linux' && wanted !== 'darwin' && wanted !== 'win32') throw new ConfigError(`memtrace traces Linux, macOS and Windows, not ${wanted}`)
  return {
    dir: resolve(values.dir as string),
    intervalMs,
    systemIntervalMs,
    match,
    ollamaUrl,
    foreground: values.foreground as boolean,
    daemonized: values.daemonized as boolean,
    platform: wanted,
    procRoot: '/proc',
    ...(metrics ? { metrics } : {}),
    ...(metricsAccess ? { metricsAccess } : {}),
    ...(values['metrics-runtime'] ? { metricsRuntime: true } : {}),
    ...(serverLog ? { serverLog } : {}),
  }
}
