/**
 * What each section's lines add to a system sample, and the fields derived
 * once every section of the block is read (platform, used, free %, swap).
 */
import type { LoadedModel, SystemSample } from '../../schemas/index.js'
import * as mac from './sections/macos.js'

export function pathOnly(path: string | undefined) {
  return path === undefined ? undefined : { path, key: '', value: null }
}

/** What one block's vm_stat counters leave for the next: their labels in order, an object of them to copy, and what each label feeds. */
export interface VmStatMemo {
  labels: string[]
  copy: Record<string, number>
  feeds: VmStatFeed[]
}

/** The sample field a vm_stat label feeds (in bytes or in pages), and the count it is. */
interface VmStatFeed {
  field: string | undefined
  isBytes: boolean
  count: string | undefined
}

/**
 * A block's vm_stat counters, held as they come and put into the sample's
 * `vmStat` at flush(). A block listing the same counters in the same order
 * as the last one gets a copy of that one's object, filled in: an object of
 * twenty-odd counters stored one by one went over V8's limit for fast
 * properties, and every block's was a slow dictionary; and each label at the
 * place it had last time feeds the field it fed, not looked up again. Same
 * keys, same order, same values as storing each as it came.
 */
export class VmStatCounters {
  readonly #memo: { vmStat?: VmStatMemo } | undefined
  readonly #labels: string[] = []
  readonly #values: number[] = []
  /** The object this block made for its counters, while it is still empty. */
  #fresh: Record<string, number> | undefined

  constructor(memo?: { vmStat?: VmStatMemo }) {
    this.#memo = memo
  }

  add(s: SystemSample, label: string, value: number, pageSize: number): void {
    if (!s.vmStat) s.vmStat = this.#fresh = {}
    const last = this.#memo?.vmStat
    const at = this.#labels.length
    this.#labels.push(label)
    this.#values.push(value)
    const feed = last && last.labels[at] === label ? (last.feeds[at] as VmStatFeed) : feedOf(label)
    if (feed.field) (s as Record<string, unknown>)[feed.field] = feed.isBytes ? value : value * pageSize
    if (feed.count) (s as Record<string, unknown>)[feed.count] = value
  }

  /** Puts the counters held into `s.vmStat`. */
  flush(s: SystemSample): void {
    const labels = this.#labels
    if (labels.length === 0) return
    const memo = this.#memo
    const last = memo?.vmStat
    let same = s.vmStat === this.#fresh && last !== undefined && last.labels.length === labels.length
    for (let i = 0; same && i < labels.length; i++) same = last?.labels[i] === labels[i]
    const into = same ? { ...(last as VmStatMemo).copy } : (s.vmStat as Record<string, number>)
    for (let i = 0; i < labels.length; i++) into[labels[i] as string] = this.#values[i] as number
    if (!same && memo && s.vmStat === this.#fresh && new Set(labels).size === labels.length) {
      memo.vmStat = { labels: [...labels], copy: JSON.parse(JSON.stringify(into)) as Record<string, number>, feeds: labels.map(feedOf) }
    }
    s.vmStat = into
    this.#fresh = undefined
    labels.length = 0
    this.#values.length = 0
  }
}

function feedOf(label: string): VmStatFeed {
  return { field: mac.VM_STAT_FIELDS[label], isBytes: mac.vmStatLabelIsBytes(label), count: mac.VM_STAT_COUNTS[label] }
}

export function addSysctl(s: SystemSample, key: string, value: number): void {
  s.sysctl ??= {}
  s.sysctl[key] = value
  if (key === 'hw.memsize') s.memTotalBytes = value
}

export function addMeminfo(s: SystemSample, key: string, bytes: number): void {
  s.meminfo ??= {}
  s.meminfo[key] = bytes
}

export function addVmstat(s: SystemSample, key: string, value: number): void {
  s.vmstat ??= {}
  s.vmstat[key] = value
  if (key === 'pswpin') s.swapInPages = value
  if (key === 'pswpout') s.swapOutPages = value
}

export function addCgroup(s: SystemSample, cg: { path?: string; key: string; value: number | null }): void {
  s.cgroup ??= {}
  // A `cgroup: <path>` line names it; a file's directory only when nothing did.
  if (cg.path && (cg.key === '' || s.cgroup.path === undefined)) s.cgroup.path = cg.path
  switch (cg.key) {
    case 'memory.current':
    case 'memory.usage_in_bytes':
      if (cg.value !== null) s.cgroup.usageBytes = cg.value
      break
    case 'memory.max':
    case 'memory.limit_in_bytes':
      s.cgroup.limitBytes = cg.value
      break
    case 'memory.peak':
    case 'memory.max_usage_in_bytes':
      if (cg.value !== null) s.cgroup.peakBytes = cg.value
      break
    case 'memory.swap.current':
      if (cg.value !== null) s.cgroup.swapBytes = cg.value
      break
  }
}

/** Derived fields and the platform, once every section is read. */
export function finish(s: SystemSample): void {
  const mi = s.meminfo
  const f = s.free
  if (mi || f) {
    s.platform = 'linux'
    // Each group from one source: /proc/meminfo where it has the group whole (exact), else free (as rounded as it printed).
    if (mi && mi.MemTotal !== undefined && (mi.MemAvailable !== undefined || !f)) memoryOf(s, mi.MemTotal, mi.MemFree, mi.MemAvailable)
    else if (f) memoryOf(s, f.totalBytes, f.freeBytes, f.availableBytes)
    else if (mi) memoryOf(s, undefined, mi.MemFree, mi.MemAvailable)
    if (mi && mi.SwapTotal !== undefined && (mi.SwapFree !== undefined || f?.swapTotalBytes === undefined)) swapOf(s, mi.SwapTotal, mi.SwapFree)
    else if (f?.swapTotalBytes !== undefined) swapOf(s, f.swapTotalBytes, f.swapFreeBytes, f.swapUsedBytes)
    else if (mi?.SwapFree !== undefined) s.swapFreeBytes = mi.SwapFree
  } else if (s.sections.some(n => n === 'vm_stat' || n === 'memory_pressure' || n === 'swapusage' || n === 'sysctl')) {
    s.platform = 'macos'
    // memory_pressure prints the kernel's memorystatus level: the sysctl is the same figure.
    const level = s.sysctl?.['kern.memorystatus_level']
    if (s.freePct === undefined && level !== undefined && level <= 100) s.freePct = level
  }
}

/** used is total − available, from either source (free's own "used" changed meaning across versions). */
/** Total, free and available memory into `s`, with what follows from them: used, and available as an exact share of the total. */
export function memoryOf(s: SystemSample, total: number | undefined, free: number | undefined, avail: number | undefined): void {
  if (total !== undefined) s.memTotalBytes = total
  if (free !== undefined) s.freeBytes = free
  if (avail !== undefined) s.availableBytes = avail
  if (total !== undefined && avail !== undefined) {
    s.usedBytes = Math.max(0, total - avail)
    // Exact: a share just under a threshold (29.998 %) must not read as on it. Rounded where it is written out.
    if (total > 0) s.freePct = Math.min(100, (avail / total) * 100)
  }
}

function swapOf(s: SystemSample, total: number, free: number | undefined, used?: number): void {
  s.swapTotalBytes = total
  if (free !== undefined) s.swapFreeBytes = free
  const u = used ?? (free !== undefined ? Math.max(0, total - free) : undefined)
  if (u !== undefined) s.swapUsedBytes = u
}

/**
 * A listing of one of several servers (after a `memtrace server` line): its
 * models, each marked with the server, join the block's list, and the server
 * is noted among those whose listing the block holds.
 */
export function listedBy(s: SystemSample, server: string, list: LoadedModel[] | undefined, models: LoadedModel[]): LoadedModel[] {
  s.servers ??= []
  if (!s.servers.includes(server)) s.servers.push(server)
  return [...(list ?? []), ...models.map(m => ({ ...m, server }))]
}
