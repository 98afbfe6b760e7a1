/** Wired memory rising as a runner loads (macOS: Metal's buffers are wired). Pure. */
import { formatDuration } from '../../core/parse/time.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { upperBound } from './lookup.js'
import { type At, type Ctx, type Draft, arrival, draft, extreme, firstMs, GIB, gib, join, lastMs, lines, modelsOf, peakRss, range, runnerName, valueBefore } from './context.js'

/** A rise of at least this much within LOAD_WINDOW_MS of a runner starting is a finding. */
export const JUMP_BYTES = 1 * GIB
export const LOAD_WINDOW_MS = 60_000

interface Jump {
  runner: ProcSeries
  before: At
  peak: At
}

/**
 * One finding per runner whose start wired memory followed; a model loaded
 * again and again (a sweep, reloads) is one line with the range of its loads.
 * Only a runner seen starting counts, and "before" is never a value from
 * before a gap in sampling.
 */
export function wiredJumpFindings(ctx: Ctx): Draft[] {
  const jumps: Jump[] = []
  const starts = ctx.runners.map(firstMs).sort((a, b) => a - b)
  for (const s of ctx.runners) {
    if (arrival(ctx, s) !== 'started') continue
    const start = firstMs(s)
    // The window closes where the next runner starts: its load is its own.
    const next = starts[upperBound(starts, start)] ?? Infinity
    const before = valueBefore(ctx, 'wired', start)
    const peak = extreme(ctx.trace, 'wired', start, Math.min(start + LOAD_WINDOW_MS, next - 1), 'max')
    if (before && peak && peak.v - before.v >= JUMP_BYTES) jumps.push({ runner: s, before, peak })
  }
  return lines(jumps, j => j.runner.model ?? '', j => one(ctx, j), g => (new Set(g.map(j => j.runner.model)).size > 1 ? mixed(ctx, g) : many(ctx, g)))
}

function one(ctx: Ctx, j: Jump): Draft {
  const text =
    `Wired memory rose by ${gib(j.peak.v - j.before.v)} as ${runnerName(j.runner)} started at ${ctx.at(firstMs(j.runner))}: ` +
    `from ${gib(j.before.v)} at ${ctx.at(j.before.t)} to ${gib(j.peak.v)} at ${ctx.at(j.peak.t)}.`
  return draft('wired-jump', firstMs(j.runner), j.peak.t, [j.runner], text, { wiredBeforeBytes: j.before.v, wiredPeakBytes: j.peak.v })
}

/** `15 runners of qwen2.5-coder:7b, one after another, 13:10:04–13:24:59: peak RSS 5.3 → 15.7 GiB; wired rose at each load by 4.9–14.4 GiB.` */
function many(ctx: Ctx, g: Jump[]): Draft {
  const model = g[0]?.runner.model ?? 'an unnamed model'
  const all = ctx.runners.filter(s => s.model === model)
  const start = Math.min(...all.map(firstMs))
  const end = Math.max(...all.map(lastMs))
  const sequential = all.every((s, i) => i === 0 || firstMs(s) > lastMs(all[i - 1] as ProcSeries))
  const peaks = all.map(s => (peakRss(s) as At).v)
  const firstPeak = gib(peaks[0] as number)
  const lastPeak = gib(peaks[peaks.length - 1] as number)
  const highest = Math.max(...peaks)
  // The same figure first and last is no change to show with an arrow: the range says it.
  const rss = firstPeak === lastPeak ? `peak RSS ${range(peaks)}` : `peak RSS ${firstPeak.replace(' GiB', '')} → ${lastPeak}${gib(highest) !== lastPeak ? ` (highest ${gib(highest)})` : ''}`
  const loads = g.length === all.length ? 'at each load' : `at ${g.length} of ${all.length} loads`
  const rises = g.map(j => j.peak.v - j.before.v)
  const text =
    `${all.length} runners of ${model}${sequential ? ', one after another' : ''}, ${ctx.at(start)}–${ctx.at(end)} (${formatDuration(end - start)}): ` +
    `${rss}; wired rose ${loads} by ${range(rises)}.`
  return draft('wired-jump', start, end, g.map(j => j.runner), text, { runners: all.length, wiredRiseMinBytes: Math.min(...rises), wiredRiseMaxBytes: Math.max(...rises), peakRssFirstBytes: peaks[0] as number, peakRssLastBytes: peaks[peaks.length - 1] as number })
}

/** Loads of several models: one line with the range of the rises. */
function mixed(ctx: Ctx, g: Jump[]): Draft {
  const rises = g.map(j => j.peak.v - j.before.v)
  const start = firstMs((g[0] as Jump).runner)
  const end = Math.max(...g.map(j => j.peak.t))
  const text = `Wired memory rose at ${g.length} loads of ${join(modelsOf(g.map(j => j.runner)))} between ${ctx.at(start)} and ${ctx.at(end)}, by ${range(rises)} each.`
  return draft('wired-jump', start, end, g.map(j => j.runner), text, { loads: g.length, wiredRiseMinBytes: Math.min(...rises), wiredRiseMaxBytes: Math.max(...rises) })
}
