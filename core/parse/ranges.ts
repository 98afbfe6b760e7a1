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

/** The upper bound of a field, by its name; names repeat in every block, so each is worked out once. */
const bounds = new Map<string, number>()

function boundOf(key: string): number {
  let b = bounds.get(key)
  if (b === undefined) {
    b = /Pct$|^(some|full)Avg/.test(key) ? 100 : /Bytes$/.test(key) ? MAX_BYTES : MAX_COUNT
    bounds.set(key, b)
  }
  return b
}

/** Whether a value can stand for the named field. */
export function plausible(key: string, v: number): boolean {
  return Number.isFinite(v) && v >= 0 && v <= boundOf(key)
}

/** Maps of raw counters, and the bound of every value in them: meminfo is in bytes, the others count. */
const RAW_MAPS: Record<string, number> = { meminfo: MAX_BYTES, vmStat: MAX_COUNT, vmstat: MAX_COUNT, sysctl: MAX_COUNT }
/** Lists whose entries are dropped whole when one of their figures is impossible. */
const LISTS = new Set(['gpus', 'gpuProcesses', 'models', 'cliModels'])

/**
 * Drops every impossible figure of a parsed system sample in place, calling
 * `report` with its name: keys of the sample and of its nested objects, and
 * whole entries of its lists (a model with an impossible size is no model).
 */
export function dropImplausible(s: Record<string, unknown>, report: (field: string) => void, o: { topOnly?: boolean } = {}): void {
  // for…in, not Object.entries: this runs for every block of a day-long trace.
  for (const key in s) {
    const v = s[key]
    if (typeof v === 'number') {
      if (key !== 'line' && !plausible(key, v)) {
        delete s[key]
        report(key)
      }
    } else if (o.topOnly || typeof v !== 'object' || v === null) continue
    else if (Array.isArray(v)) {
      if (!LISTS.has(key)) continue
      const kept = v.filter(e => typeof e !== 'object' || e === null || allPlausible(e as Record<string, unknown>))
      if (kept.length < v.length) {
        s[key] = kept
        report(`${key} (${v.length - kept.length} entr${v.length - kept.length > 1 ? 'ies' : 'y'})`)
      }
    } else {
      const bound = RAW_MAPS[key]
      const obj = v as Record<string, unknown>
      for (const k in obj) {
        const x = obj[k]
        if (typeof x === 'number' && !(bound === undefined ? plausible(k, x) : Number.isFinite(x) && x >= 0 && x <= bound)) {
          delete obj[k]
          report(`${key}.${k}`)
        }
      }
    }
  }
}

function allPlausible(o: Record<string, unknown>): boolean {
  for (const k in o) {
    const v = o[k]
    if (typeof v === 'number' && !plausible(k, v)) return false
  }
  return true
}
