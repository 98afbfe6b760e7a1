/** The system's figures a finding quotes, each from a sample it names. Pure. */
import { hasNoSwap } from '../../core/model/trace.js'
import type { Interval } from '../../core/model/intervals.js'
import { pctText } from '../../core/units.js'
import { type At, type Ctx, extreme, freeWord, gib, join, valueAt } from './context.js'

/** The memory series worth quoting, with how a sentence names them. */
const QUOTED: [name: string, label: string][] = [
  ['wired', 'wired'],
  ['compressor', 'compressor'],
  ['used', 'used memory'],
  ['cgroup-usage', 'container usage'],
  ['swap-used', 'swap used'],
  ['commit', 'commit charge'],
]

/** A host with no swap has nothing to say about swap used. */
function quoted(ctx: Ctx): [string, string][] {
  return hasNoSwap(ctx.trace) ? QUOTED.filter(([n]) => n !== 'swap-used') : QUOTED
}

const KEY: Record<string, string> = { 'free-pct': 'freePct', wired: 'wiredBytes', compressor: 'compressorBytes', used: 'usedBytes', 'cgroup-usage': 'cgroupUsageBytes', 'swap-used': 'swapUsedBytes', commit: 'commitBytes' }

/** Windows' commit charge is said against its limit at the same sample: `93% of its 36.5 GiB limit`. */
function ofLimit(ctx: Ctx, name: string, ms: number): string {
  if (name !== 'commit') return ''
  const limit = valueAt(ctx.trace, 'commit-limit', ms)
  const v = valueAt(ctx.trace, 'commit', ms)
  return limit && v !== undefined ? `${Math.round((v / limit) * 100)}% of its ${gib(limit)} limit` : ''
}

/** The extreme of a series over samples inside any of the intervals. */
function extremeIn(ctx: Ctx, name: string, ivs: readonly Interval[], kind: 'max' | 'min'): At | undefined {
  let best: At | undefined
  for (const iv of ivs) {
    const e = extreme(ctx.trace, name, iv.startMs, iv.endMs, kind)
    if (e && (!best || (kind === 'max' ? e.v > best.v : e.v < best.v))) best = e
  }
  return best
}

/**
 * The worst of each series over samples inside the intervals only, each with
 * its own time: `free memory fell to 6% (14:10:20); wired peaked at 25.7 GiB (14:10:45), …`.
 */
export function worstDuring(ctx: Ctx, ivs: readonly Interval[], lead: string): { text: string; figures: Record<string, number> } {
  const figures: Record<string, number> = {}
  const parts: string[] = []
  const free = extremeIn(ctx, 'free-pct', ivs, 'min')
  if (free) {
    figures.freePct = free.v
    parts.push(
      free.v < ctx.lowFreePct
        ? `${freeWord(ctx.trace)} fell to ${pctText(free.v, ctx.lowFreePct)}% (${ctx.at(free.t)})`
        : `${freeWord(ctx.trace)} stayed at ${pctText(free.v)}% or more (lowest at ${ctx.at(free.t)})`,
    )
  }
  const peaks: string[] = []
  for (const [name, label] of quoted(ctx)) {
    const e = extremeIn(ctx, name, ivs, 'max')
    if (!e) continue
    figures[KEY[name] as string] = e.v
    // The verb once, for the first: `wired peaked at 25.7 GiB (…), compressor 5.0 GiB (…)`.
    peaks.push(`${label} ${peaks.length ? '' : 'peaked at '}${gib(e.v)} (${[ctx.at(e.t), ofLimit(ctx, name, e.t)].filter(Boolean).join('; ')})`)
  }
  if (peaks.length) parts.push(join(peaks))
  if (parts.length === 0) return { text: `${lead} there was no system sample.`, figures }
  return { text: `${lead} ${parts.join('; ')}.`, figures }
}

/** The series at exactly one sample: `wired was 23.7 GiB, compressor 2.8 GiB and swap used 0.9 GiB`. */
export function valuesAt(ctx: Ctx, ms: number): { text: string; figures: Record<string, number> } {
  const figures: Record<string, number> = {}
  const parts: string[] = []
  for (const [name, label] of quoted(ctx)) {
    const v = valueAt(ctx.trace, name, ms)
    if (v === undefined) continue
    figures[KEY[name] as string] = v
    parts.push(`${label} ${parts.length ? '' : 'was '}${gib(v)}${ofLimit(ctx, name, ms) ? ` (${ofLimit(ctx, name, ms)})` : ''}`)
  }
  return { text: join(parts), figures }
}
