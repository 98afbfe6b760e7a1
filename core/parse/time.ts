const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/

/**
 * Milliseconds since the epoch for a trace timestamp, or NaN. Accepts the
 * seed's `2026-02-25T14:03:12Z`, fractions of a second, and explicit offsets;
 * a time without a zone is refused rather than guessed.
 */
export function parseTs(text: string): number {
  if (text.length === 20) {
    const ms = plainUtc(text)
    if (ms !== undefined) return ms
  }
  const m = ISO_RE.exec(text)
  if (!m) return NaN
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[]
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1 || day > 31) return NaN
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return NaN
  let ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s))
  if (frac) ms += Math.round(Number(`0${frac}`) * 1000)
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    // Real offsets run from −12:00 to +14:00.
    if (Number(digits.slice(0, 2)) > 14 || Number(digits.slice(2)) > 59) return NaN
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000
  }
  return ms
}

/**
 * The trace's own form, `2026-02-25T14:03:12Z`, read digit by digit: what
 * ISO_RE and the checks below make of it, for the one form nearly every
 * timestamp has; undefined for anything else, which goes the long way.
 */
function plainUtc(s: string): number | undefined {
  const c = (i: number) => s.charCodeAt(i)
  if (c(19) !== 90 /* Z */ || c(4) !== 45 || c(7) !== 45 || (c(10) !== 84 && c(10) !== 32) || c(13) !== 58 || c(16) !== 58) return undefined
  const d = (i: number, n: number) => {
    let v = 0
    for (let k = i; k < i + n; k++) {
      const x = c(k) - 48
      if (x < 0 || x > 9) return -1
      v = v * 10 + x
    }
    return v
  }
  const y = d(0, 4)
  const month = d(5, 2)
  const day = d(8, 2)
  const h = d(11, 2)
  const mi = d(14, 2)
  const sec = d(17, 2)
  if (y < 0 || month < 0 || day < 0 || h < 0 || mi < 0 || sec < 0) return undefined
  if (month < 1 || month > 12 || day < 1 || day > 31) return NaN
  if (h > 23 || mi > 59 || sec > 60) return NaN
  return Date.UTC(y, month - 1, day, h, mi, sec)
}

/** UTC ISO-8601 to the second, the trace's own form. */
export function formatTs(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Caches the last timestamp: every row of one sample shares it. */
export class TsCache {
  #text = ''
  #ms = NaN
  parse(text: string): number {
    if (text !== this.#text) {
      this.#text = text
      this.#ms = parseTs(text)
    }
    return this.#ms
  }
}

/** `1 h 07 min`, `4 min 10 s`, `2 d 3 h`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

/** `20260225-140312` in local time, as the seed's `date +%Y%m%d-%H%M%S` names its files. */
export function localStamp(ms: number): string {
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`
}
