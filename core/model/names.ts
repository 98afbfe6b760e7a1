/** Naming runners by their model: argv, the daemon's mapping, or a match against /api/ps. */
import type { ProcSeries, Trace } from './trace.js'
import { shortBlob } from './roles.js'
import { sysPeriod } from './intervals.js'
import { markServers, servers } from './servers.js'

/** Window for the daemon's mapping event around a runner's life. */
const MATCH_WINDOW_MS = 30_000
/** A runner and a model first listed within this many system periods are a match. */
const MATCH_PERIODS = 3

interface Presence {
  name: string
  firstMs: number
  lastMs: number
  sizeBytes: number
  used: boolean
  /** The server that listed it, where the trace names servers. */
  server?: string
}

/**
 * Gives every runner a model name, in order of preference: the name on its
 * command line (MLX), the mapping the daemon recorded from the manifests, a
 * model /api/ps started listing when the runner appeared (its own server's
 * listing, where the host runs several), and last the short blob digest so
 * that two unnamed runners still differ. With several servers, each runner
 * and server is then marked with its server's name.
 */
export function nameRunners(trace: Trace): void {
  const runners = trace.procs.filter(s => s.role === 'runner')
  for (const ev of trace.events) {
    if (ev.kind !== 'runner' || ev.pid === undefined || !ev.model) continue
    const s = pickByPid(runners, ev.pid, Date.parse(ev.ts), ev.blob)
    if (s && s.modelSource !== 'argv') {
      s.model = ev.model
      s.modelSource = 'trace'
    }
  }
  const presences = listPresence(trace)
  // With several servers, a runner is named only from its own server's listings.
  const { several, of } = servers(trace)
  const own = (s: ProcSeries, p: Presence) => !several || p.server === undefined || of(s)?.address === undefined || p.server === of(s)?.address
  // A runner already named claims the listing of its own name.
  for (const s of runners) {
    if (s.model === undefined) continue
    const start = s.tsMs[0] as number
    const end = s.tsMs[s.tsMs.length - 1] as number
    for (const p of presences) if (p.name === s.model && p.firstMs <= end && p.lastMs >= start && own(s, p)) p.used = true
  }
  const window = MATCH_PERIODS * sysPeriod(trace)
  for (const s of runners) {
    if (s.model !== undefined) continue
    const match = bestPresence(s, presences, window, p => own(s, p))
    if (match) {
      match.used = true
      s.model = match.name
      s.modelSource = 'api-ps-match'
    } else if (s.blob) {
      s.model = shortBlob(s.blob)
      s.modelSource = 'blob'
    }
  }
  markServers(trace)
}

function pickByPid(runners: ProcSeries[], pid: number, tsMs: number, blob?: string): ProcSeries | undefined {
  const same = runners.filter(s => s.pid === pid)
  if (same.length <= 1) return same[0]
  return (
    same.find(s => (s.tsMs[0] as number) - MATCH_WINDOW_MS <= tsMs && tsMs <= (s.tsMs[s.tsMs.length - 1] as number)) ??
    same.find(s => blob !== undefined && s.blob === blob)
  )
}

/** Each continuous stretch of snapshots that list a model name. */
function listPresence(trace: Trace): Presence[] {
  const period = sysPeriod(trace)
  const open = new Map<string, Presence>()
  const out: Presence[] = []
  for (const snap of trace.snapshots) {
    const names = new Set<string>()
    for (const m of snap.models) {
      // One server's model and another's of the same name are two presences.
      const key = m.server === undefined ? m.name : `${m.server}\n${m.name}`
      names.add(key)
      const p = open.get(key)
      if (p && snap.tsMs - p.lastMs <= 2.5 * period) {
        p.lastMs = snap.tsMs
        p.sizeBytes = Math.max(p.sizeBytes, m.sizeBytes)
      } else {
        const np: Presence = { name: m.name, firstMs: snap.tsMs, lastMs: snap.tsMs, sizeBytes: m.sizeBytes, used: false, ...(m.server !== undefined ? { server: m.server } : {}) }
        open.set(key, np)
        out.push(np)
      }
    }
    // A server that did not answer this time says nothing about its models.
    for (const [key, p] of open) if (!names.has(key) && snap.tsMs > p.lastMs && (p.server === undefined || !snap.servers || snap.servers.includes(p.server))) open.delete(key)
  }
  return out
}

/** The unused presence that began nearest the runner's start; size breaks ties. */
function bestPresence(s: ProcSeries, presences: Presence[], window: number, own: (p: Presence) => boolean): Presence | undefined {
  const start = s.tsMs[0] as number
  const end = s.tsMs[s.tsMs.length - 1] as number
  let best: Presence | undefined
  let bestScore = Infinity
  // Presences are in order of first listing, and only those first listed within the window can match:
  // start a second before it (rounding), stop a second after, and test each as before.
  let lo = 0
  let hi = presences.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((presences[mid] as Presence).firstMs < start - window - 1000) lo = mid + 1
    else hi = mid
  }
  for (let i = lo; i < presences.length; i++) {
    const p = presences[i] as Presence
    if (p.firstMs > start + window + 1000) break
    if (p.used || p.firstMs > end || p.lastMs < start - window || !own(p)) continue
    const dt = Math.abs(p.firstMs - start)
    if (dt > window) continue
    const sizeGap = Math.abs(p.sizeBytes - s.peakRssKb * 1024) / Math.max(1, p.sizeBytes)
    const score = dt / 1000 + sizeGap
    if (score < bestScore) {
      bestScore = score
      best = p
    }
  }
  return best
}
