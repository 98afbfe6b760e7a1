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

/** Every finding, in time order. A calm trace has none. */
export function findFindings(trace: Trace, o: FindingOptions): Finding[] {
  const at = (ms: number) => wallClock(ms, o.zone, { seconds: true })
  const out = [
    ...overlapFindings(trace, at),
    ...lowFreeFindings(trace, o.lowFreePct, at),
    ...claimFindings(trace),
    ...gapFindings(trace, at),
  ]
  return out.sort((a, b) => a.start.localeCompare(b.start))
}

const runnerName = (s: ProcSeries) => `runner PID ${s.pid} for ${s.model ?? 'an unnamed model'}`
const alive = (s: ProcSeries, ms: number) => (s.tsMs[0] as number) <= ms && ms <= (s.tsMs[s.tsMs.length - 1] as number)

/** The system's worst values in an interval: lowest free %, highest wired, compressor, swap, used. */
function systemDuring(trace: Trace, iv: Interval): { text: string; figures: Record<string, number> } {
  const { tsMs, fields } = trace.sys
  const figures: Record<string, number> = {}
  const pick = (name: string, worst: 'min' | 'max') => {
    const vals = fields.get(name)
    if (!vals) return
    let best: number | undefined
    tsMs.forEach((t, i) => {
      const v = vals[i] as number
      if (t < iv.startMs - 5000 || t > iv.endMs + 5000 || Number.isNaN(v)) return
      if (best === undefined || (worst === 'min' ? v < best : v > best)) best = v
    })
    if (best !== undefined) figures[name] = best
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
  return { text: parts.length ? `During that interval ${join(parts)}.` : '', figures }
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

function overlapFindings(trace: Trace, at: (ms: number) => string): Finding[] {
  const runners = trace.procs.filter(s => s.role === 'runner')
  return runnerOverlaps(trace).map(iv => {
    const both = runners.filter(s => alive(s, iv.startMs)).sort((a, b) => (a.tsMs[0] as number) - (b.tsMs[0] as number))
    const newest = both[both.length - 1] as ProcSeries
    const older = both.slice(0, -1)
    let peak = 0
    for (const s of both) s.tsMs.forEach((t, i) => t >= iv.startMs && t <= iv.endMs && (peak = Math.max(peak, ((s.rssKb[i] as number) * 1024))))
    let combined = 0
    const times = new Set<number>()
    for (const s of both) for (const t of s.tsMs) if (t >= iv.startMs && t <= iv.endMs) times.add(t)
    for (const t of times) {
      let sum = 0
      for (const s of both) {
        const i = s.tsMs.indexOf(t)
        if (i >= 0) sum += (s.rssKb[i] as number) * 1024
      }
      combined = Math.max(combined, sum)
    }
    const sys = systemDuring(trace, iv)
    const text =
      `At ${at(iv.startMs)}, ${older.map(runnerName).join(' and ')} ${older.length > 1 ? 'were' : 'was'} still alive while ${runnerName(newest)} started. ` +
      `They ran together for ${formatDuration(iv.endMs - iv.startMs + procPeriod(trace))}, holding ${gib(combined)} RSS combined at the peak. ${sys.text}${listed(trace, iv)}`
    return {
      record: 'finding',
      kind: 'runner-overlap',
      start: formatTs(iv.startMs),
      end: formatTs(iv.endMs),
      pids: both.map(s => s.pid),
      models: both.map(s => s.model ?? ''),
      text: text.trim(),
      figures: { combinedRssBytes: combined, ...sys.figures },
    } satisfies Finding
  })
}

function lowFreeFindings(trace: Trace, threshold: number, at: (ms: number) => string): Finding[] {
  const { tsMs, fields } = trace.sys
  const pct = fields.get('free-pct')
  return lowFreeIntervals(trace, threshold).map(iv => {
    let worstMs = iv.startMs
    let worst = Infinity
    tsMs.forEach((t, i) => {
      const v = pct?.[i] as number
      if (t >= iv.startMs && t < iv.endMs && v < worst) {
        worst = v
        worstMs = t
      }
    })
    const loaded = trace.procs.filter(s => s.role === 'runner' && alive(s, worstMs))
    const sys = systemDuring(trace, { startMs: worstMs, endMs: worstMs })
    const word = trace.sys.platform === 'linux' ? 'available memory' : 'free memory'
    const who = loaded.length ? `, with ${loaded.map(s => `${s.model} (pid ${s.pid})`).join(' and ')} loaded` : ', with no model runner alive'
    const text = `From ${at(iv.startMs)} to ${at(iv.endMs)} (${formatDuration(iv.endMs - iv.startMs)}) ${word} was under ${threshold}%, lowest ${worst}% at ${at(worstMs)}${who}. ${sys.text.replace('During that interval', 'At the worst point')}`
    return {
      record: 'finding',
      kind: 'low-free',
      start: formatTs(iv.startMs),
      end: formatTs(iv.endMs),
      pids: loaded.map(s => s.pid),
      models: loaded.map(s => s.model ?? ''),
      text: text.trim(),
      figures: { lowestFreePct: worst, ...sys.figures },
    } satisfies Finding
  })
}

/** Each named runner's peak RSS next to what /api/ps said it holds. */
function claimFindings(trace: Trace): Finding[] {
  const out: Finding[] = []
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
    out.push({
      record: 'finding',
      kind: 'claim-vs-measured',
      start: formatTs(first),
      end: formatTs(last),
      pids: [s.pid],
      models: [s.model],
      text: `${runnerName(s)} peaked at ${gib(rss)} RSS; Ollama said ${gib(claim.sizeBytes)}${vram}${ctx}: measured ${how} Ollama's figure.`,
      figures: { peakRssBytes: rss, ollamaSizeBytes: claim.sizeBytes, ...(claim.sizeVramBytes !== undefined ? { ollamaSizeVramBytes: claim.sizeVramBytes } : {}) },
    })
  }
  return out
}

/** Missed samples, a server that did not answer, the daemon starting again. */
function gapFindings(trace: Trace, at: (ms: number) => string): Finding[] {
  const out: Finding[] = []
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
