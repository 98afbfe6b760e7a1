import { scaleUtc } from 'd3-scale'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** Throws RangeError for a zone Intl does not know. */
export function checkZone(zone: string): void {
  if (zone === 'UTC') return // always known; no need to load the time-zone data for it
  new Intl.DateTimeFormat('en-US', { timeZone: zone })
}

/**
 * UTC's offset is 0: what the formatter works out too for every instant from
 * the year 100 to 9999 (before 100, Date.UTC reads its years as 1900 + y and
 * the formatter's answer is not 0; it is still asked there). Answering it
 * here keeps a chart drawn in UTC from loading the time-zone data at all.
 */
const UTC_FROM = Date.UTC(100, 0, 1)
const UTC_TO = Date.UTC(10000, 0, 1)

/** One formatter per zone: making one costs far more than using it, and every time label needs one. */
const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(zone, f)
  }
  return f
}

/** Offset of `zone` from UTC at instant `ms`, in ms (east positive). */
export function zoneOffsetMs(ms: number, zone: string): number {
  if (zone === 'UTC' && ms >= UTC_FROM && ms < UTC_TO) return 0
  const parts = formatterFor(zone).formatToParts(ms)
  const get = (t: string) => Number(parts.find(p => p.type === t)?.value)
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return wall - Math.floor(ms / 1000) * 1000
}

/** `UTC+05:30` */
export function offsetName(offsetMs: number): string {
  const m = Math.round(offsetMs / 60_000)
  const sign = m < 0 ? '-' : '+'
  const a = Math.abs(m)
  return `UTC${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

/** Wall-clock text in the zone: `14:03`, `14:03:12`, `Feb 25 14:03`. */
export function wallClock(ms: number, zone: string, opts: { date?: boolean; seconds?: boolean } = {}): string {
  const d = new Date(ms + zoneOffsetMs(ms, zone))
  let s = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
  if (opts.seconds) s += `:${pad(d.getUTCSeconds())}`
  if (opts.date) s = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${s}`
  return s
}

/**
 * Tick instants and labels for a time axis read in `zone`: ticks fall on round
 * wall-clock times there, and a label carries the date where the day changes.
 */
export function timeTicks(startMs: number, endMs: number, zone: string, count: number): { ms: number; label: string }[] {
  const off = zoneOffsetMs(startMs, zone)
  const ticks = scaleUtc()
    .domain([new Date(startMs + off), new Date(endMs + off)])
    .ticks(count)
  let lastDay = ''
  // Ticks half a minute apart would read 10:00, 10:00, 10:01: whenever one falls off the whole minute, all say their seconds.
  const withSeconds = endMs - startMs < 3 * 60_000 || ticks.some(t => t.getUTCSeconds() !== 0)
  return ticks.map(t => {
    const local = t.getTime()
    const day = `${MONTHS[t.getUTCMonth()]} ${t.getUTCDate()}`
    let label = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`
    if (withSeconds) label += `:${pad(t.getUTCSeconds())}`
    if (day !== lastDay) {
      if (lastDay !== '' || endMs - startMs > 20 * 3600_000) label = `${day} ${label}`
      lastDay = day
    }
    return { ms: local - off, label }
  })
}

export { formatDuration } from '../../core/parse/time.js'
