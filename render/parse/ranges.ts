/**
 * Numbers no real machine has: the checks every parsed figure passes before
 * it is used. An overflow (`1e400`, 400 digits) or a negative size is damage,
 * reported and dropped, never an `Infinity` in a chart or a finding. Pure.
 */

/** 1 EiB: far above any host's memory, swap or GPU, far below where doubles lose whole bytes. */
export const MAX_BYTES = 2 ** 60
/** The same in KiB, for RSS and VSZ columns. */
export const MAX_KIB = 2 ** 50
/** Above every platform's PID limit (Linux 2^22, macOS 99,999). */
export const MAX_PID = 2 ** 31 - 1
const MAX_COUNT = Number.MAX_SAFE_INTEGER

/** Whether a value can stand for the named field. */
export function plausible(key: string, v: number): boolean {
  if (!Number.isFinite(v)) return false
  if (/Pct$|^(some|full)Avg/.test(key)) return v >= 0 && v <= 100
  if (/Bytes$/.test(key)) return v >= 0 && v <= MAX_BYTES
  return v >= 0 && v <= MAX_COUNT
}

/** Maps of raw counters, and what unit their values are in. */
const RAW_MAPS: Record<string, string> = { meminfo: 'Bytes', vmStat: '', vmstat: '' }
/** Lists whose entries are dropped whole when one of their figures is impossible. */
const LISTS = new Set(['gpus', 'models', 'cliModels'])

/**
 * Drops every impossible figure of a parsed system sample in place, calling
 * `report` with its name: keys of the sample and of its nested objects, and
 * whole entries of its lists (a model with an impossible size is no model).
 */
export function dropImplausible(s: Record<string, unknown>, report: (field: string) => void): void {
  for (const [key, v] of Object.entries(s)) {
    if (key === 'line') continue
    if (typeof v === 'number') {
      if (!plausible(key, v)) {
        delete s[key]
        report(key)
      }
    } else if (Array.isArray(v) && LISTS.has(key)) {
      const kept = v.filter(e => typeof e !== 'object' || e === null || allPlausible(e as Record<string, unknown>))
      if (kept.length < v.length) {
        s[key] = kept
        report(`${key} (${v.length - kept.length} entr${v.length - kept.length > 1 ? 'ies' : 'y'})`)
      }
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const unit = RAW_MAPS[key]
      const obj = v as Record<string, unknown>
      for (const [k, x] of Object.entries(obj)) {
        if (typeof x !== 'number') continue
        if (!plausible(unit === undefined ? k : `${k}${unit}`, x)) {
          delete obj[k]
          report(`${key}.${k}`)
        }
      }
    }
  }
}

function allPlausible(o: Record<string, unknown>): boolean {
  return Object.entries(o).every(([k, v]) => typeof v !== 'number' || plausible(k, v))
}
