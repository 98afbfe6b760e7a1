/** What happened, in sentences with times, PIDs, models and figures. Pure. */
import type { Finding, LoadedModel } from '../../schemas/index.js'
import { GAP_FACTOR, type Interval, lowFreeIntervals, procPeriod, runnerOverlaps, sysPeriod } from '../model/intervals.js'
import type { ProcSeries, Trace } from '../model/trace.js'
import { formatDuration, formatTs } from '../parse/time.js'
import { wallClock } from '../chart/time-axis.js'

const GIB = 1024 ** 3
const gib = (b: number) => `${(b / GIB).toFixed(1)} GiB`

export interface FindingOptions {
  zone: string
  lowFreePct: number
}

/** A finding before it is numbered. */
type Draft = Omit<Finding, 'n'>

/** Which kinds a maintainer reads first. */
const RANK: Finding['kind'][] = ['runner-overlap', 'low-free', 'orphan-runner', 'runner-gone-while-listed', 'pressure-after-low-free', 'not-given-back', 'wired-jump', 'claim-vs-measured', 'gap', 'server-unanswered', 'daemon-restart']

/** Every finding, most important first, numbered from 1. A calm trace has none. */
export function findFindings(trace: Trace, o: FindingOptions): Finding[] {
  const at = (ms: number) => wallClock(ms, o.zone, { seconds: true })
  const out = [
    ...overlapFindings(trace, at),
    ...lowFreeFindings(trace, o.lowFreePct, at),
    ...claimFindings(trace),
    ...wiredJumpFindings(trace, at),
    ...afterLowFreeFindings(trace, o.lowFreePct, at),
    ...notGivenBackFindings(trace, at),
    ...gapFindings(trace, at),
  ]
  return out
    .sort((a, b) => RANK.indexOf(a.kind) - RANK.indexOf(b.kind) || a.start.localeCompare(b.start))
    .map(({ record, ...rest }, i) => ({ record, n: i + 1, ...rest }))
}

/** A finding about some runners over an interval: the record shape they all share. */
function runnerFinding(kind: Finding['kind'], startMs: number, endMs: number, runners: ProcSeries[], text: string, figures: Record<string, number>): Draft {
  return {
    record: 'finding',
    kind,
    start: formatTs(startMs),
    end: formatTs(endMs),
    pids: runners.map(s => s.pid),
    models: runners.map(s => s.model ?? ''),
    text: text.trim(),
    figures,
  }
}

const runnerName = (s: ProcSeries) => `runner PID ${s.pid} for ${s.model ?? 'an unnamed model'}`
const alive = (s: ProcSeries, ms: number) => (s.tsMs[0] as number) <= ms && ms <= (s.tsMs[s.tsMs.length - 1] as number)

/** The system's worst values in an interval: lowest free %, highest wired, compressor, swap, used. */
function systemDuring(trace: Trace, iv: Interval, lead = 'During that interval'): { text: string; figures: Record<string, number> } {
  const figures: Record<string, number> = {}
  const pick = (name: string, worst: 'min' | 'max') => {
    const e = extreme(trace, name, iv.startMs - 5000, iv.endMs + 5000, worst)
    if (e) figures[name] = e.v
  }
  pick('free-pct', 'min')
  for (const n of ['wired', 'compressor', 'swap-used', 'used', 'cgroup-usage']) pick(n, 'max')
  const parts: string[] = []
  const freeWord = trace.sys.platform === 'linux' ? 'available memory' : 'free memory'
  if (figures['free-pct'] !== undefined) parts.push(`${freeWord} was down to ${figures['free-pct']}%`)
  if (figures.wired !== undefined) parts.push(`wired memory was ${gib(figures.wired)}`)
  if (figures.compressor !== undefined) parts.push(`compressor was ${gib(figures.compressor)}`)
  if (figures.used !== undefined) parts.push(`used memory was ${gib(figures.used)}`)
  if (figures['cgroup-usage'] !== undefined) parts.push(`the container used ${gib(figures['cgroup-usage'])}`)
  if (figures['swap-used'] !== undefined) parts.push(`swap used was ${gib(figures['swap-used'])}`)
  return { text: parts.length ? `${lead} ${join(parts)}.` : '', figures }
}

function join(parts: string[]): string {
  return parts.length <= 1 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')}, and ${parts[parts.length - 1]}`
}

function listed(trace: Trace, iv: Interval): string {
  const snap = trace.snapshots.filter(s => s.tsMs >= iv.startMs - 5000 && s.tsMs <= iv.endMs + 5000).sort((a, b) => b.models.length - a.models.length)[0]
  if (!snap) return ''
  if (snap.models.length === 0) return ' /api/ps listed no model.'
  const src = snap.models[0]?.source === 'ollama-ps' ? 'ollama ps' : '/api/ps'
  return ` ${src} listed ${snap.models.map((m: LoadedModel) => `${m.name} (${(m.sizeBytes / 1e9).toFixed(1)} GB)`).join(', ')}.`
}

function overlapFindings(trace: Trace, at: (ms: number) => string): Draft[] {
  const runners = trace.procs.filter(s => s.role === 'runner')
  return runnerOverlaps(trace).map(iv => {
    const both = runners.filter(s => alive(s, iv.startMs)).sort((a, b) => (a.tsMs[0] as number) - (b.tsMs[0] as number))
    const newest = both[both.length - 1] as ProcSeries
    const older = both.slice(0, -1)
    // Combined RSS per shared sample time, in one pass over each runner.
    const sums = new Map<number, number>()
    for (const r of both) {
      r.tsMs.forEach((t, i) => {
        if (t >= iv.startMs && t <= iv.endMs) sums.set(t, (sums.get(t) ?? 0) + (r.rssKb[i] as number) * 1024)
      })
    }
    let combined = 0
    for (const v of sums.values()) if (v > combined) combined = v
    const sys = systemDuring(trace, iv)
    const text =
      `At ${at(iv.startMs)}, ${older.map(runnerName).join(' and ')} ${older.length > 1 ? 'were' : 'was'} still alive while ${runnerName(newest)} started. ` +
      `They ran together for ${formatDuration(iv.endMs - iv.startMs + procPeriod(trace))}, holding ${gib(combined)} RSS combined at the peak. ${sys.text}${listed(trace, iv)}`
    return runnerFinding('runner-overlap', iv.startMs, iv.endMs, both, text, { combinedRssBytes: combined, ...sys.figures })
  })
}

function lowFreeFindings(trace: Trace, threshold: number, at: (ms: number) => string): Draft[] {
  return lowFreeIntervals(trace, threshold).map(iv => {
    const low = extreme(trace, 'free-pct', iv.startMs, iv.endMs - 1, 'min')
    const worst = low?.v ?? threshold
    const worstMs = low?.t ?? iv.startMs
    const loaded = trace.procs.filter(s => s.role === 'runner' && alive(s, worstMs))
    const sys = systemDuring(trace, { startMs: worstMs, endMs: worstMs }, 'At the worst point')
    const word = trace.sys.platform === 'linux' ? 'available memory' : 'free memory'
    const who = loaded.length ? `, with ${loaded.map(s => `${s.model} (pid ${s.pid})`).join(' and ')} loaded` : ', with no model runner alive'
    const text = `From ${at(iv.startMs)} to ${at(iv.endMs)} (${formatDuration(iv.endMs - iv.startMs)}) ${word} was under ${threshold}%, lowest ${worst}% at ${at(worstMs)}${who}. ${sys.text}`
    return runnerFinding('low-free', iv.startMs, iv.endMs, loaded, text, { lowestFreePct: worst, ...sys.figures })
  })
}

/** Each named runner's peak RSS next to what /api/ps said it holds. */
function claimFindings(trace: Trace): Draft[] {
  const out: Draft[] = []
  for (const s of trace.procs) {
    if (s.role !== 'runner' || !s.model) continue
    const first = s.tsMs[0] as number
    const last = s.tsMs[s.tsMs.length - 1] as number
    let claim: LoadedModel | undefined
    for (const snap of trace.snapshots) {
      if (snap.tsMs < first || snap.tsMs > last) continue
      const m = snap.models.find(x => x.name === s.model)
      if (m && (!claim || m.sizeBytes > claim.sizeBytes)) claim = m
    }
    if (!claim || claim.sizeBytes <= 0) continue
    const rss = s.peakRssKb * 1024
    const diff = (rss - claim.sizeBytes) / claim.sizeBytes
    const how = Math.abs(diff) < 0.05 ? 'about the same as' : diff > 0 ? `${Math.round(diff * 100)}% above` : `${Math.round(-diff * 100)}% below`
    const vram = claim.sizeVramBytes !== undefined ? `, ${gib(claim.sizeVramBytes)} of it on the GPU` : ''
    const ctx = claim.contextLength ? `, context ${claim.contextLength}` : ''
    out.push(runnerFinding('claim-vs-measured', first, last, [s], `${runnerName(s)} peaked at ${gib(rss)} RSS; Ollama said ${gib(claim.sizeBytes)}${vram}${ctx}: measured ${how} Ollama's figure.`, { peakRssBytes: rss, ollamaSizeBytes: claim.sizeBytes, ...(claim.sizeVramBytes !== undefined ? { ollamaSizeVramBytes: claim.sizeVramBytes } : {}) }))
  }
  return out
}

/** Missed samples, a server that did not answer, the daemon starting again. */
function gapFindings(trace: Trace, at: (ms: number) => string): Draft[] {
  const out: Draft[] = []
  // Process rows cannot tell "no Ollama process" from "no sample" (the seed's
  // loop writes nothing for either); system blocks are written every time, and
  // the daemon says when it skipped ticks.
  const sysTs = trace.sys.tsMs
  const sp0 = sysPeriod(trace)
  for (let i = 1; i < sysTs.length; i++) {
    const a = sysTs[i - 1] as number
    const b = sysTs[i] as number
    if (b - a > GAP_FACTOR * sp0) {
      out.push({ record: 'finding', kind: 'gap', start: formatTs(a), end: formatTs(b), text: `No samples from ${at(a)} to ${at(b)} (${formatDuration(b - a)}): the chart shows a gap there, not a line.` })
    }
  }
  for (const e of trace.events) {
    if (e.kind !== 'missed' || !e.ticks) continue
    out.push({ record: 'finding', kind: 'gap', start: e.ts, text: `At ${at(Date.parse(e.ts))} memtrace skipped ${e.ticks} ${e.source ?? ''} sample${e.ticks > 1 ? 's' : ''}: sampling took longer than its interval (a busy or thrashing machine).`.replace('  ', ' ') })
  }
  const sp = sysPeriod(trace)
  const errs = trace.events.filter(e => e.kind === 'source-error' && (e.source === 'api-ps' || e.source === undefined)).map(e => ({ ms: Date.parse(e.ts), msg: e.message ?? '' }))
  errs.sort((a, b) => a.ms - b.ms)
  let run: { start: number; end: number; n: number; msg: string } | undefined
  const flush = () => {
    if (!run) return
    const when = run.n > 1 ? `from ${at(run.start)} to ${at(run.end)} (${run.n} system samples)` : `at ${at(run.start)}`
    out.push({ record: 'finding', kind: 'server-unanswered', start: formatTs(run.start), end: formatTs(run.end), text: `The Ollama server did not answer ${when}: ${run.msg}` })
    run = undefined
  }
  for (const e of errs) {
    if (run && e.ms - run.end <= GAP_FACTOR * sp) {
      run.end = e.ms
      run.n++
    } else {
      flush()
      run = { start: e.ms, end: e.ms, n: 1, msg: e.msg }
    }
  }
  flush()
  trace.events
    .filter(e => e.kind === 'start')
    .slice(1)
    .forEach(e => out.push({ record: 'finding', kind: 'daemon-restart', start: e.ts, text: `memtrace started again at ${at(Date.parse(e.ts))}: samples before and after are not joined.` }))
  return out
}

/** Value of a system series at the last sample before `ms` (or at it, when `inclusive`). */
function valueBefore(trace: Trace, name: string, ms: number, inclusive = false): number | undefined {
  const vals = trace.sys.fields.get(name)
  if (!vals) return undefined
  let v: number | undefined
  trace.sys.tsMs.forEach((t, i) => {
    if ((t < ms || (inclusive && t === ms)) && !Number.isNaN(vals[i] as number)) v = vals[i] as number
  })
  return v
}

/** Highest (or lowest) value of a series in [from, to], with its time. */
function extreme(trace: Trace, name: string, from: number, to: number, kind: 'max' | 'min'): { v: number; t: number } | undefined {
  const vals = trace.sys.fields.get(name)
  if (!vals) return undefined
  let best: { v: number; t: number } | undefined
  trace.sys.tsMs.forEach((t, i) => {
    const v = vals[i] as number
    if (t < from || t > to || Number.isNaN(v)) return
    if (!best || (kind === 'max' ? v > best.v : v < best.v)) best = { v, t }
  })
  return best
}

const JUMP_BYTES = 1 * GIB
const LOAD_WINDOW_MS = 60_000

/** Wired memory rising by a GiB or more within a minute of a runner starting (macOS). */
function wiredJumpFindings(trace: Trace, at: (ms: number) => string): Draft[] {
  const out: Draft[] = []
  for (const s of trace.procs) {
    if (s.role !== 'runner') continue
    const start = s.tsMs[0] as number
    const before = valueBefore(trace, 'wired', start)
    const peak = extreme(trace, 'wired', start, start + LOAD_WINDOW_MS, 'max')
    if (before === undefined || !peak || peak.v - before < JUMP_BYTES) continue
    out.push(runnerFinding('wired-jump', start, peak.t, [s], `Wired memory rose from ${gib(before)} to ${gib(peak.v)} (+${gib(peak.v - before)}) by ${at(peak.t)}, as ${runnerName(s)} started at ${at(start)}.`, { wiredBeforeBytes: before, wiredPeakBytes: peak.v }))
  }
  return out
}

const GROWTH_BYTES = 0.5 * GIB

/** Compressor and swap growing during or after a low-free interval, and whether they came back. */
function afterLowFreeFindings(trace: Trace, threshold: number, at: (ms: number) => string): Draft[] {
  const out: Draft[] = []
  const endMs = trace.sys.tsMs[trace.sys.tsMs.length - 1] ?? trace.endMs
  for (const iv of lowFreeIntervals(trace, threshold)) {
    const parts: string[] = []
    const after: string[] = []
    const figures: Record<string, number> = {}
    for (const [name, label] of [['compressor', 'the compressor'], ['swap-used', 'swap used']] as const) {
      const before = valueBefore(trace, name, iv.startMs)
      const peak = extreme(trace, name, iv.startMs, iv.endMs + 5 * LOAD_WINDOW_MS, 'max')
      if (before === undefined || !peak || peak.v - before < GROWTH_BYTES) continue
      const last = valueBefore(trace, name, endMs, true) as number
      const grown = peak.v - before
      const state = last <= before + 0.1 * grown ? 'back' : last <= before + 0.5 * grown ? 'partly back' : 'not given back'
      parts.push(`${label} grew from ${gib(before)} to ${gib(peak.v)}`)
      after.push(`${label} was at ${gib(last)} (${state})`)
      figures[`${name}BeforeBytes`] = before
      figures[`${name}PeakBytes`] = peak.v
      figures[`${name}AtEndBytes`] = last
    }
    if (parts.length === 0) continue
    out.push({
      record: 'finding',
      kind: 'pressure-after-low-free',
      start: formatTs(iv.startMs),
      end: formatTs(iv.endMs),
      text: `After free memory fell under ${threshold}% at ${at(iv.startMs)}, ${join(parts)}; at the end of the trace (${at(endMs)}) ${join(after)}.`,
      figures,
    })
  }
  return out
}

const RECOVERY_POINTS = 10

/** A runner gone, but free memory not back to where it was before it started. */
function notGivenBackFindings(trace: Trace, at: (ms: number) => string): Draft[] {
  const out: Draft[] = []
  const lastSys = trace.sys.tsMs[trace.sys.tsMs.length - 1] ?? 0
  const runners = trace.procs.filter(s => s.role === 'runner')
  for (const s of runners) {
    const start = s.tsMs[0] as number
    const end = s.tsMs[s.tsMs.length - 1] as number
    if (lastSys - end < 20_000) continue // still running at the end, or no time to tell
    if (runners.some(o => o !== s && alive(o, end + 20_000))) continue // another model holds memory now
    const before = valueBefore(trace, 'free-pct', start)
    const recovered = extreme(trace, 'free-pct', end, end + LOAD_WINDOW_MS, 'max')
    if (before === undefined || !recovered || before - recovered.v < RECOVERY_POINTS) continue
    const word = trace.sys.platform === 'linux' ? 'available memory' : 'free memory'
    out.push(runnerFinding('not-given-back', end, recovered.t, [s], `${runnerName(s)} exited at ${at(end)}, but ${word} was at most ${recovered.v}% in the minute after, against ${before}% before it started: memory not given back.`, { freePctBefore: before, freePctAfter: recovered.v }))
  }
  return out
}
