/** The compressor and swap after free memory ran low, and whether they came back. Pure. */
import { lowFreeIntervals } from '../../core/model/intervals.js'
import { type Ctx, type Draft, draft, extreme, freeWord, GIB, gib, join, lastValue, valueBefore } from './context.js'
import { LOAD_WINDOW_MS } from './wired-jump.js'

/** Growth that counts, and how long after the last low interval to look. */
export const GROWTH_BYTES = 0.5 * GIB
const AFTER_MS = 5 * LOAD_WINDOW_MS

/**
 * One finding for the trace: from just before free memory first ran low to
 * five minutes after it last did, did the compressor or swap grow, and where
 * were they at the last sample.
 */
export function afterLowFreeFindings(ctx: Ctx): Draft[] {
  const lows = lowFreeIntervals(ctx.trace, ctx.lowFreePct)
  const first = lows[0]
  const last = lows[lows.length - 1]
  if (!first || !last) return []
  const grew: string[] = []
  const atEnd: string[] = []
  const figures: Record<string, number> = {}
  let endT: number | undefined
  for (const [name, label, key] of [['compressor', 'the compressor', 'compressor'], ['swap-used', 'swap used', 'swapUsed']] as const) {
    const before = valueBefore(ctx, name, first.startMs)
    const peak = extreme(ctx.trace, name, first.startMs, last.endMs + AFTER_MS, 'max')
    const end = lastValue(ctx.trace, name)
    if (!before || !peak || !end || peak.v - before.v < GROWTH_BYTES) continue
    const grown = peak.v - before.v
    const state = end.v <= before.v + 0.1 * grown ? 'back' : end.v <= before.v + 0.5 * grown ? 'partly back' : 'not given back'
    grew.push(`${label} grew from ${gib(before.v)} (${ctx.at(before.t)}) to ${gib(peak.v)} (${ctx.at(peak.t)})`)
    atEnd.push(`${label} was at ${gib(end.v)} (${state})`)
    endT = end.t
    figures[`${key}BeforeBytes`] = before.v
    figures[`${key}PeakBytes`] = peak.v
    figures[`${key}AtEndBytes`] = end.v
  }
  if (grew.length === 0 || endT === undefined) return []
  const text = `After ${freeWord(ctx.trace)} fell under ${ctx.lowFreePct}% at ${ctx.at(first.startMs)}, ${join(grew)}; at the last sample (${ctx.at(endT)}) ${join(atEnd)}.`
  return [draft('pressure-after-low-free', first.startMs, endT, [], text, figures)]
}
