/** `render --pid`: one server's processes and what the daemon heard from it, not every Ollama on the host. Pure. */
import type { Trace } from '../core/model/trace.js'

/** The processes of `pids` and every process descended from them, by the parents the trace recorded. */
export function onlyTrees<T extends { pid: number; ppid: number }>(procs: T[], pids: number[]): T[] {
  const keep = new Set(pids)
  for (let grew = true; grew; ) {
    grew = false
    for (const p of procs) if (keep.has(p.ppid) && !keep.has(p.pid)) (keep.add(p.pid), (grew = true))
  }
  return procs.filter(p => keep.has(p.pid))
}

/**
 * With `--pid`: what the daemon heard from other servers on the host (their
 * addresses, their listings, their errors) goes with their processes. A
 * server is known by the address the trace recorded for its PID; with none
 * recorded, nothing is dropped.
 */
export function onlyTheirServers(trace: Trace): void {
  const kept = new Set(trace.procs.map(p => p.pid))
  const addresses = new Set(trace.events.flatMap(e => (e.kind === 'server' && e.pid !== undefined && kept.has(e.pid) && e.address ? [e.address] : [])))
  if (addresses.size === 0) return
  const urlOf = (text: string) => /^https?:\/\/([^/\s]+)\//.exec(text)?.[1]
  trace.events = trace.events.filter(e => {
    if (e.kind === 'server') return e.pid === undefined || kept.has(e.pid)
    if (e.kind === 'source-error') {
      const at = urlOf(e.message ?? '')
      return at === undefined || addresses.has(at)
    }
    return true
  })
  // A listing block holds every server's: only theirs is kept, each model by the server it names.
  trace.snapshots = trace.snapshots.flatMap(s => {
    if (!s.servers) return [s]
    const servers = s.servers.filter(x => addresses.has(x))
    return servers.length ? [{ ...s, servers, models: s.models.filter(m => m.server === undefined || addresses.has(m.server)) }] : []
  })
}
