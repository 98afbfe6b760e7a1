/** Go's formats, as Ollama prints and reads them: RFC 3339 times and keep_alive durations. */

/** Ollama's keep_alive: seconds as a number, or a Go duration string; negative = forever. */
export function parseKeepAlive(v: unknown, fallback: number): number {
  if (v === undefined || v === null || v === '') return fallback
  if (typeof v === 'number') return v < 0 ? -1 : v * 1000
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(v).trim())
  if (!m) return fallback
  const n = Number(m[1])
  if (n < 0) return -1
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] as number)
}

/** RFC 3339 in the server's local zone with fractional seconds, as Go prints it. */
export function goTime(ms: number): string {
  const d = new Date(ms)
  const off = -d.getTimezoneOffset()
  const local = new Date(ms + off * 60_000).toISOString().replace('Z', '')
  const sign = off >= 0 ? '+' : '-'
  const a = Math.abs(off)
  const zone = off === 0 ? 'Z' : `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`
  return `${local.replace(/\.?0+$/, '')}${zone}`
}
