/** Free memory under the threshold: the intervals the red bands draw. Pure. */
import { type Interval, LOW_FREE_HYSTERESIS_PCT, lowFreeIntervals } from '../../core/model/intervals.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { formatDuration } from '../../core/parse/time.js'
import { pctText } from '../../core/units.js'
import { type At, type Ctx, type Draft, cap, draft, extreme, freeWord, join, lines, modelsOf } from './context.js'
import { Spans } from './lookup.js'
import { valuesAt } from './system-figures.js'

interface Low {
  iv: Interval
  worst: At
  loaded: ProcSeries[]
}

/** One finding per interval; intervals with runners of the same models loaded are one line. */
export function lowFreeFindings(ctx: Ctx): Draft[] {
  const spans = new Spans(ctx.runners)
  const lows: Low[] = lowFreeIntervals(ctx.trace, ctx.lowFreePct).map(iv => {
    const worst = extreme(ctx.trace, 'free-pct', iv.startMs, iv.endMs, 'min') ?? { v: ctx.lowFreePct, t: iv.startMs }
    // The runners alive at that sample.
    return { iv, worst, loaded: spans.between(worst.t, worst.t) }
  })
  return lines(lows, l => modelsOf(l.loaded).sort().join('\n'), l => one(ctx, l), g => many(ctx, g))
}

/** `from 14:10:00 to 14:12:00 (2 min 00 s)`, saying so when it never ended. */
function span(ctx: Ctx, iv: Interval): string {
  const len = formatDuration(iv.endMs - iv.startMs)
  if (iv.cut === 'end') return `from ${ctx.at(iv.startMs)} until the end of the trace (${ctx.at(iv.endMs)}, ${len}; not recovered)`
  if (iv.cut === 'gap') return `from ${ctx.at(iv.startMs)} until sampling stopped at ${ctx.at(iv.endMs)} (${len}; a gap follows)`
  return `from ${ctx.at(iv.startMs)} to ${ctx.at(iv.endMs)} (${len})`
}

function who(loaded: ProcSeries[]): string {
  return loaded.length ? `with ${join(loaded.map(s => `${s.model ?? 'an unnamed model'} (pid ${s.pid})`))} loaded` : 'with no model runner alive'
}

function one(ctx: Ctx, l: Low): Draft {
  const at = valuesAt(ctx, l.worst.t)
  const text =
    `${cap(freeWord(ctx.trace))} was under ${ctx.lowFreePct}% ${span(ctx, l.iv)}, lowest ${pctText(l.worst.v, ctx.lowFreePct)}% at ${ctx.at(l.worst.t)}, ${who(l.loaded)}.` +
    (at.text ? ` At that sample ${at.text}.` : '')
  return draft('low-free', l.iv.startMs, l.iv.endMs, l.loaded, text, { lowestFreePct: l.worst.v, ...at.figures })
}

function many(ctx: Ctx, g: Low[]): Draft {
  const first = g[0] as Low
  const last = g[g.length - 1] as Low
  const worst = g.reduce((a, l) => (l.worst.v < a.worst.v ? l : a))
  const total = g.reduce((a, l) => a + (l.iv.endMs - l.iv.startMs), 0)
  const runners = [...new Set(g.flatMap(l => l.loaded))]
  const models = modelsOf(runners)
  const same = new Set(g.map(l => modelsOf(l.loaded).sort().join('\n'))).size === 1
  const each = !runners.length ? 'with no model runner alive' : same ? `each time with ${models.length > 1 ? 'runners' : 'a runner'} of ${join(models)} loaded` : `with runners of ${join(models)} among those loaded`
  const at = valuesAt(ctx, worst.worst.t)
  const open = last.iv.cut === 'end' ? ', the last until the end of the trace, not recovered' : ''
  const text =
    `${cap(freeWord(ctx.trace))} was under ${ctx.lowFreePct}% ${g.length} times between ${ctx.at(first.iv.startMs)} and ${ctx.at(last.iv.endMs)} ` +
    `(${formatDuration(total)} in all${open}), ${each}. Lowest ${pctText(worst.worst.v, ctx.lowFreePct)}% at ${ctx.at(worst.worst.t)}` +
    `${worst.loaded.length ? `, ${who(worst.loaded)}` : ''}${at.text ? `; at that sample ${at.text}` : ''}.`
  return draft('low-free', first.iv.startMs, last.iv.endMs, runners, text, { lowestFreePct: worst.worst.v, intervals: g.length, durationMs: total, ...at.figures })
}


/** How the intervals are decided, for the report. */
export const LOW_FREE_RULE = `An interval runs from the first sample under the threshold to the first sample back at or above it; one sample less than ${LOW_FREE_HYSTERESIS_PCT} points above the threshold between two low samples does not end it.`
