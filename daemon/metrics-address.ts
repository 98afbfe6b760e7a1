/** `memtrace start --metrics [HOST:]PORT`, read without loading prom-client. */

/** Where the metrics are served: loopback unless an address is given. */
export interface MetricsAddress {
  host: string
  port: number
}

export class MetricsError extends Error {}

/** `PORT`, `HOST:PORT` or `[V6]:PORT`; the host defaults to loopback. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text.trim())
  const port = Number(m?.[2])
  if (!m || port > 65535) throw new MetricsError(`--metrics: expected [HOST:]PORT such as 9464 or 0.0.0.0:9464, got "${text}"`)
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port }
}

/** `HOST:PORT`, with an IPv6 host in brackets. */
export function formatHostPort(at: MetricsAddress): string {
  return `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`
}
