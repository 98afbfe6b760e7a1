/**
 * Several Ollama servers on one host (one `ollama serve` per GPU or per user):
 * which server each runner belongs to, by the process tree (a runner's parent,
 * or an ancestor, is its `ollama serve`), and which server each listing came
 * from (the daemon's `memtrace server` lines). Overlaps, orphans and claims
 * are then worked out per server. A trace with one server (or one made by the
 * shell loops) is not grouped at all: everything reads as before. Pure.
 */
import type { LoadedModel } from '../../schemas/index.js'
import type { ProcSeries, Snapshot, Trace } from './trace.js'

/** A runner's server: `key` groups runners, `name` is what the chart and the findings say. */
export interface ServerRef {
  key: string
  /** `:11435` for a server on this host, `host:port` otherwise, `PID 812` where no address is known. */
  name: string
  /** Its address as recorded (host:port), where known. */
  address?: string
}

export interface Servers {
  /** Two or more servers in the trace: runners are grouped and named by server. */
  several: boolean
  /** The runner's server, when the trace has several and it is known. */
  of(s: ProcSeries): ServerRef | undefined
}

const NONE: Servers = { several: false, of: () => undefined }
const memo = new WeakMap<Trace, Servers>()

/** A runner's server is this many ancestors up at most (a wrapper or two between them). */
const MAX_DEPTH = 6

export function servers(trace: Trace): Servers {
  let s = memo.get(trace)
  if (!s) memo.set(trace, (s = find(trace)))
  return s
}

function find(trace: Trace): Servers {
  const addressOf = new Map<number, string>()
  const addresses = new Set<string>()
  for (const e of trace.events) {
    if (e.kind !== 'server' || !e.address || !SAFE.test(e.address)) continue
    addresses.add(e.address)
    if (e.pid !== undefined) addressOf.set(e.pid, e.address)
  }
  const serverProcs = trace.procs.filter(p => p.role === 'server')
  const ref = (p: ProcSeries): ServerRef => {
    const address = addressOf.get(p.pid)
    return address ? { key: address, name: shortName(address), address } : { key: `pid:${p.pid}`, name: `PID ${p.pid}` }
  }
  if (serverProcs.length < 2 && addresses.size < 2) return NONE
  const byPid = new Map<number, ProcSeries[]>()
  for (const p of trace.procs) {
    const list = byPid.get(p.pid)
    if (list) list.push(p)
    else byPid.set(p.pid, [p])
  }
  /** The process with this PID alive at `ms` (a reused PID is another process). */
  const at = (pid: number, ms: number) => {
    const list = byPid.get(pid)
    return list?.find(p => first(p) <= ms && ms <= last(p)) ?? (list?.length === 1 ? list[0] : undefined)
  }
  /** The runner's `ollama serve`: its parent, or an ancestor, alive when it started. */
  const serverOf = (s: ProcSeries): ProcSeries | undefined => {
    let cur: ProcSeries | undefined = s
    for (let d = 0; cur && d < MAX_DEPTH; d++) {
      cur = at(cur.ppid, first(s))
      if (cur?.role === 'server') return cur
    }
    return undefined
  }
  const found = new Map<ProcSeries, ServerRef | undefined>()
  const serving = new Set<ProcSeries>()
  for (const s of trace.procs) {
    if (s.role !== 'runner') continue
    const server = serverOf(s)
    found.set(s, server ? ref(server) : undefined)
    if (server) serving.add(server)
  }
  // Two addresses recorded, or two servers with runners alive at once: an `ollama serve` that failed to
  // start beside the running one (its port taken), or a restart, is not a second server.
  let several = addresses.size > 1
  const withRunners = [...serving]
  for (let i = 0; !several && i < withRunners.length; i++) {
    for (let j = i + 1; j < withRunners.length; j++) {
      const a = withRunners[i] as ProcSeries
      const b = withRunners[j] as ProcSeries
      if (first(a) <= last(b) && first(b) <= last(a) && ref(a).key !== ref(b).key) several = true
    }
  }
  if (!several) return NONE
  return { several, of: s => found.get(s) }
}

/** What an address may hold to be shown: a host name or IP and a port, nothing a chart or report could take for markup. */
const SAFE = /^[A-Za-z0-9.:[\]-]{1,80}$/

/** `127.0.0.1:11435` → `:11435`; another host keeps its name. */
export function shortName(address: string): string {
  const m = /^(.*):(\d+)$/.exec(address)
  if (!m) return address
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|0\.0\.0\.0|\[::\])$/.test(m[1] as string) ? `:${m[2]}` : address
}

/** Whether a listing says anything about this server: its own, or (unmarked) every server's. */
export function speaksFor(snap: Snapshot, server: ServerRef | undefined): boolean {
  if (!snap.servers || !server) return true
  return server.address !== undefined && snap.servers.includes(server.address)
}

/** The listing's entry for a model, of this server where the listing names servers. */
export function listedOn(snap: Snapshot, model: string, server: ServerRef | undefined): LoadedModel | undefined {
  return snap.models.find(m => m.name === model && (m.server === undefined || server === undefined || m.server === server.address))
}

/**
 * With several servers, each runner and each server process is marked with
 * its server's name (for the legend and the findings); otherwise nothing is.
 */
export function markServers(trace: Trace): void {
  const { several, of } = servers(trace)
  if (!several) return
  const names = new Map<number, string>()
  for (const e of trace.events) if (e.kind === 'server' && e.pid !== undefined && e.address && SAFE.test(e.address)) names.set(e.pid, shortName(e.address))
  for (const s of trace.procs) {
    const name = s.role === 'runner' ? of(s)?.name : s.role === 'server' ? names.get(s.pid) : undefined
    if (name) s.server = name
  }
}

const first = (p: ProcSeries) => p.tsMs[0] as number
const last = (p: ProcSeries) => p.tsMs[p.tsMs.length - 1] as number
