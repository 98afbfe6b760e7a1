const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/

/**
 * Milliseconds since the epoch for a trace timestamp, or NaN. Accepts the
 * seed's `2026-02-25T14:03:12Z`, fractions of a second, and explicit offsets;
 * a time without a zone is refused rather than guessed.
 */
export function parseTs(text: string): number {
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
