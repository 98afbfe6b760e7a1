/**
 * How busy the host is around a step: the CPU that processes other than the
 * managed server, its runners and memtrace used, as a share of the whole
 * machine (all cores), from Linux's /proc/stat and /proc/PID/stat; and the
 * 1-minute load average. The parsers are pure; `snapshot` reads /proc.
 * Elsewhere (macOS) only the load average is read.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'

/** The machine's CPU time so far, all cores, in clock ticks: busy (user, nice, system, irq, softirq, steal) and in all. */
export interface CpuTotals {
  busy: number
  total: number
}

/** The first `cpu ` line of /proc/stat; undefined when it is not there. */
export function parseProcStat(text: string): CpuTotals | undefined {
  const m = /^cpu\s+(.*)$/m.exec(text)
  if (!m) return undefined
  const f = (m[1] as string).trim().split(/\s+/).map(Number)
  if (f.length < 4 || f.some(x => !Number.isFinite(x))) return undefined
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f
  const busy = user + nice + system + irq + softirq + steal
  return { busy, total: busy + idle + iowait }
}

/** A process's PID, parent and CPU time so far (utime + stime, clock ticks) from /proc/PID/stat; undefined when damaged. */
export function parsePidStat(text: string): { pid: number; ppid: number; ticks: number } | undefined {
  // The name, in parentheses, may hold spaces and parentheses: the fields start after the last ')'.
  const close = text.lastIndexOf(')')
  const pid = Number.parseInt(text, 10)
  if (close < 0 || !Number.isInteger(pid)) return undefined
  const f = text.slice(close + 2).trim().split(/\s+/)
  // After the name: state(3) ppid(4) … utime(14) stime(15), so index 0 here is field 3.
  const ppid = Number(f[1])
  const ticks = Number(f[11]) + Number(f[12])
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { pid, ppid, ticks } : undefined
}

/** One reading: the machine's totals, and the CPU time of each of our processes (the server's tree and memtrace's own). */
export interface Snapshot {
  cpu?: CpuTotals
  ours: Map<number, number>
  load: number
}

/**
 * The CPU others used between two snapshots, in % of the machine: the
 * machine's busy time less that of our processes (those in both, and the
 * whole time of those that started in between), over all the time there was.
 */
export function otherCpuPct(a: Snapshot, b: Snapshot): number | undefined {
  if (!a.cpu || !b.cpu) return undefined
  const total = b.cpu.total - a.cpu.total
  if (total <= 0) return undefined
  let ours = 0
  for (const [pid, ticks] of b.ours) ours += ticks - (a.ours.get(pid) ?? 0)
  const other = b.cpu.busy - a.cpu.busy - Math.max(0, ours)
  return Math.min(100, Math.max(0, (other / total) * 100))
}

/** Every process's PID, parent and CPU time, from /proc (Linux); empty elsewhere. */
function processes(): { pid: number; ppid: number; ticks: number }[] {
  let names: string[]
  try {
    names = readdirSync('/proc')
  } catch {
    return []
  }
  const out = []
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue
    try {
      const p = parsePidStat(readFileSync(`/proc/${n}/stat`, 'latin1'))
      if (p) out.push(p)
    } catch {
      // it exited
    }
  }
  return out
}

/** `ollama serve` on a command line (NUL-separated, as /proc/PID/cmdline holds it). */
const SERVE_RE = /(^|[/\0])ollama\0serve(\0|$)/

/** The PIDs of every `ollama serve` (a server memtrace does not manage, whose work is the step's own). */
function servers(pids: number[]): number[] {
  return pids.filter(pid => {
    try {
      return SERVE_RE.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'))
    } catch {
      return false
    }
  })
}

/**
 * A reading now: `roots` are our processes (memtrace, the daemon, the
 * server), each with its descendants; with `anyServer`, every `ollama serve`
 * and its runners count as ours too (the sweep runs against a server it did
 * not start).
 */
export function snapshot(roots: number[], anyServer = false): Snapshot {
  let cpu: CpuTotals | undefined
  try {
    cpu = parseProcStat(readFileSync('/proc/stat', 'latin1'))
  } catch {
    cpu = undefined
  }
  const all = processes()
  const kids = new Map<number, number[]>()
  for (const p of all) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p.pid])
  const mine = new Set<number>()
  const stack = [...roots.filter(r => r > 0), ...(anyServer ? servers(all.map(p => p.pid)) : [])]
  while (stack.length) {
    const pid = stack.pop() as number
    if (mine.has(pid)) continue
    mine.add(pid)
    stack.push(...(kids.get(pid) ?? []))
  }
  const ours = new Map(all.filter(p => mine.has(p.pid)).map(p => [p.pid, p.ticks]))
  return { ...(cpu ? { cpu } : {}), ours, load: loadavg()[0] ?? 0 }
}
