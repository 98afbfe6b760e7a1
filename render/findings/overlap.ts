/** Runners alive together: the interval the orange band draws, and what it cost. Pure. */
import type { LoadedModel } from '../../schemas/index.js'
import { runnerOverlaps, type Interval } from '../../core/model/intervals.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { formatDuration } from '../../core/parse/time.js'
import { arrival, type At, type Ctx, type Draft, draft, firstMs, gib, join, lines, listSource, lowerBound, modelsOf, runnerName, snapsFor, some } from './context.js'
import { worstDuring } from './system-figures.js'
import { Spans } from './lookup.js'

interface Overlap {
  iv: Interval
  runners: ProcSeries[]
  combined: At
}

/** One finding per overlap; overlaps of the same models, again and again, are one line. */
export function overlapFindings(ctx: Ctx): Draft[] {
  const spans = new Spans(ctx.runners)
  const all = runnerOverlaps(ctx.trace).map(iv => measure(ctx, spans, iv))
  return lines(all, o => modelsOf(o.runners).sort().join('\n'), o => one(ctx, o), g => many(ctx, g))
}

function measure(ctx: Ctx, spans: Spans, iv: Interval): Overlap {
  const inside = (s: ProcSeries) => {
    const t = s.tsMs[lowerBound(s.tsMs, iv.startMs)]
    return t !== undefined && t <= iv.endMs
  }
  // With several servers, an overlap is of one server's runners (`iv.server`; none: those whose server is not known).
  const own = (s: ProcSeries) => ctx.serverOf(s)?.key === iv.server
  const runners = spans.between(iv.startMs, iv.endMs).filter(s => inside(s) && own(s))
  runners.sort((a, b) => firstMs(a) - firstMs(b) || a.pid - b.pid)
  return { iv, runners, combined: runners.length <= FEW ? peakSideBySide(runners, iv) : peakByTime(runners, iv) }
}

/** Up to this many runners, their samples are walked side by side; more, and they are summed by time in a map. */
const FEW = 8

/**
 * The highest combined RSS at one process sample inside the overlap (the
 * earliest of equal ones): the runners' samples walked side by side in time
 * order, each time's sum added up in runner order, with nothing stored.
 */
function peakSideBySide(runners: ProcSeries[], iv: Interval): At {
  const at = runners.map(r => lowerBound(r.tsMs, iv.startMs))
  let combined: At = { v: 0, t: iv.startMs }
  for (;;) {
    let t = Infinity
    for (let k = 0; k < runners.length; k++) {
      const next = (runners[k] as ProcSeries).tsMs[at[k] as number]
      if (next !== undefined && next <= iv.endMs && next < t) t = next
    }
    if (t === Infinity) return combined
    let v = 0
    for (let k = 0; k < runners.length; k++) {
      const r = runners[k] as ProcSeries
      let i = at[k] as number
      // A series sorted after arriving out of order may hold one time twice: each sample counts, as in the map.
      for (; r.tsMs[i] === t; i++) v += (r.rssKb[i] as number) * 1024
      at[k] = i
    }
    if (v > combined.v) combined = { v, t }
  }
}

/** The same, for many runners: combined RSS by time in a map, then in time order. */
function peakByTime(runners: ProcSeries[], iv: Interval): At {
  const sums = new Map<number, number>()
  for (const r of runners) {
    for (let i = lowerBound(r.tsMs, iv.startMs); i < r.tsMs.length && (r.tsMs[i] as number) <= iv.endMs; i++) {
      const t = r.tsMs[i] as number
      sums.set(t, (sums.get(t) ?? 0) + (r.rssKb[i] as number) * 1024)
    }
  }
  let combined: At = { v: 0, t: iv.startMs }
  for (const [t, v] of [...sums].sort((a, b) => a[0] - b[0])) if (v > combined.v) combined = { v, t }
  return combined
}

function one(ctx: Ctx, o: Overlap): Draft {
  const { iv, runners, combined } = o
  const newest = runners[runners.length - 1] as ProcSeries
  const older = runners.slice(0, -1)
  const len = iv.endMs - iv.startMs
  const how = arrival(ctx, newest)
  const opening =
    how === 'started'
      ? `At ${ctx.at(iv.startMs)}, ${names(older)} ${older.length > 1 ? 'were' : 'was'} still alive while ${runnerName(newest)} started.`
      : how === 'after-gap'
        ? `At ${ctx.at(iv.startMs)}, after a gap in sampling, ${names(runners)} were alive together.`
        : `When the trace began (${ctx.at(iv.startMs)}), ${names(runners)} were alive together.`
  const together =
    len === 0
      ? `They were seen together in one sample only, holding ${gib(combined.v)} RSS combined.`
      : `They ran together until ${ctx.at(iv.endMs)} (${formatDuration(len)}), holding ${gib(combined.v)} RSS combined at the peak (${ctx.at(combined.t)}).`
  const sys = worstDuring(ctx, [iv], 'During the overlap')
  const text = `${opening} ${together} ${sys.text}${listed(ctx, iv, newest)}`
  return draft('runner-overlap', iv.startMs, iv.endMs, runners, text, { combinedRssBytes: combined.v, durationMs: len, ...sys.figures })
}

/** Runners by name, the first few of a long list. */
function names(rs: ProcSeries[]): string {
  return rs.length <= 3 ? join(rs.map(runnerName)) : `${rs.length} runners (${some(rs.map(s => `PID ${s.pid} for ${s.model ?? 'an unnamed model'}`))})`
}

function many(ctx: Ctx, g: Overlap[]): Draft {
  const first = g[0] as Overlap
  const last = g[g.length - 1] as Overlap
  const total = g.reduce((a, o) => a + (o.iv.endMs - o.iv.startMs), 0)
  const longest = g.reduce((a, o) => (o.iv.endMs - o.iv.startMs > a.iv.endMs - a.iv.startMs ? o : a))
  const peak = g.reduce((a, o) => (o.combined.v > a.combined.v ? o : a))
  const runners = [...new Set(g.flatMap(o => o.runners))]
  const models = modelsOf(runners)
  const sys = worstDuring(ctx, g.map(o => o.iv), 'During those overlaps')
  const text =
    `Runners of ${join(models)} were alive together ${g.length} times between ${ctx.at(first.iv.startMs)} and ${ctx.at(last.iv.endMs)} ` +
    `(${formatDuration(total)} in all; the longest from ${ctx.at(longest.iv.startMs)} to ${ctx.at(longest.iv.endMs)}), ` +
    `holding up to ${gib(peak.combined.v)} RSS combined (${ctx.at(peak.combined.t)}). ${sys.text}`
  return draft('runner-overlap', first.iv.startMs, last.iv.endMs, runners, text, { combinedRssBytes: peak.combined.v, durationMs: total, ...sys.figures })
}

/** What the server listed during the overlap: the sample that listed the most models (the runners' own server's, where there are several). */
function listed(ctx: Ctx, iv: Interval, runner: ProcSeries): string {
  const server = ctx.serverOf(runner)
  const own = (m: LoadedModel) => !server || m.server === undefined || m.server === server.address
  const snaps = snapsFor(ctx, runner, iv.startMs, iv.endMs)
  const count = (s: (typeof snaps)[number]) => s.models.filter(own).length
  const snap = snaps.reduce<(typeof snaps)[number] | undefined>((a, s) => (!a || count(s) > count(a) ? s : a), undefined)
  if (!snap) return ''
  const by = server ? ` of server ${server.name}` : ''
  if (count(snap) === 0) return ` ${listSource(snap)}${by} listed no model at ${ctx.at(snap.tsMs)}.`
  const names = snap.models.filter(own).map((m: LoadedModel) => `${m.name} (${gib(m.sizeBytes)})`)
  return ` ${listSource(snap)}${by} listed ${join(names)} at ${ctx.at(snap.tsMs)}.`
}
