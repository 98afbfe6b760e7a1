import type { LoadedModel, Pressure, SectionName, SystemSample, TraceEvent } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import { dropImplausible, MAX_BYTES, MAX_PID } from './ranges.js'
import { formatTs, parseTs } from './time.js'
import * as mac from './sections/macos.js'
import * as lin from './sections/linux.js'
import { JsonCollector, ollamaPsHeader, ollamaPsRow, parseApiPs } from './sections/ollama.js'

/** A line of a block: its text and 1-based line number. */
export interface BlockLine {
  text: string
  no: number
}

type Mode = 'vm_stat' | 'memory_pressure' | 'ollama-ps' | 'nvidia-smi' | 'swaps' | undefined
const EVENT_RE = /^memtrace ([a-z-]+) (\{.*\})$/
const EVENT_KINDS = new Set(['marker', 'runner', 'start', 'missed', 'source-error', 'dropped'])
const ERROR_LINE_RE = /^(Error:|curl: \(\d+\)|jq: error)/

/**
 * Turns the lines of one `===== ts =====` block into a system sample plus the
 * memtrace events in it. Each section is recognised by its content, not its
 * position, so hand-made logs with sections missing or reordered still read.
 */
export function parseBlock(
  file: string,
  ts: string,
  headerLine: number,
  lines: BlockLine[],
  problems: ProblemLog,
): { sample: SystemSample; events: TraceEvent[] } {
  const s: SystemSample = { record: 'system-sample', ts, line: headerLine, platform: 'unknown', sections: [] }
  const events: TraceEvent[] = []
  const seen = (name: SectionName) => {
    if (!s.sections.includes(name)) s.sections.push(name)
  }
  let mode: Mode
  let pageSize = 4096
  let psColumns: string[] = []
  let nv: lin.NvidiaColumns | undefined
  let pressure: Partial<Pressure> | undefined
  let cgPressure: Partial<Pressure> | undefined
  let swaps: { sizeBytes: number; usedBytes: number } | undefined

  for (let i = 0; i < lines.length; i++) {
    const { text: raw, no } = lines[i] as BlockLine
    const t = raw.trim()
    if (t === '') {
      if (mode === 'ollama-ps' || mode === 'nvidia-smi' || mode === 'swaps') mode = undefined
      continue
    }
    const c0 = t[0]
    if (c0 === '{' || c0 === '[') {
      const json = new JsonCollector()
      let done = json.push(t)
      while (!done && i + 1 < lines.length) done = json.push((lines[++i] as BlockLine).text)
      seen('api-ps')
      mode = undefined
      const parsed = done ? parseApiPs(json.text) : { error: 'JSON not closed before the next block' }
      if ('error' in parsed) problems.add(file, no, 'bad-json', `/api/ps: ${parsed.error}`)
      else s.models = parsed.models
      continue
    }
    if (t.startsWith('memtrace ')) {
      const ev = parseEvent(t, ts, no)
      if (typeof ev !== 'string') {
        events.push(ev)
        seen('memtrace')
      } else problems.add(file, no, 'bad-value', ev)
      continue
    }
    const ps = mac.vmStatPageSize(t)
    if (ps !== undefined) {
      pageSize = ps
      s.pageSizeBytes = ps
      mode = 'vm_stat'
      seen('vm_stat')
      continue
    }
    const mp = mac.memoryPressureHeader(t)
    if (mp) {
      s.memTotalBytes = mp.totalBytes
      mode = 'memory_pressure'
      seen('memory_pressure')
      continue
    }
    const freePct = mac.memoryPressureFreePct(t)
    if (freePct !== undefined) {
      s.freePct = Math.min(100, freePct)
      seen('memory_pressure')
      mode = undefined
      continue
    }
    const swap = mac.parseSwapUsage(t)
    if (swap) {
      if (swap.total !== undefined) s.swapTotalBytes = swap.total
      if (swap.used !== undefined) s.swapUsedBytes = swap.used
      if (swap.free !== undefined) s.swapFreeBytes = swap.free
      seen('swapusage')
      mode = undefined
      continue
    }
    const cols = ollamaPsHeader(t)
    if (cols) {
      psColumns = cols
      s.cliModels = []
      mode = 'ollama-ps'
      seen('ollama-ps')
      continue
    }
    if (mode === 'ollama-ps') {
      const row = ollamaPsRow(t, psColumns)
      if (row) {
        ;(s.cliModels as LoadedModel[]).push(row)
        continue
      }
      mode = undefined
    }
    if (mode === 'vm_stat') {
      const kv = mac.vmStatCounter(t)
      if (kv) {
        addVmStat(s, kv[0], kv[1], pageSize)
        continue
      }
      // Stay in vm_stat: one garbled counter must not lose the ones after it.
    }
    if (mode === 'memory_pressure' && mac.isMemoryPressureLine(t)) continue
    const mem = lin.meminfoLine(t)
    if (mem) {
      addMeminfo(s, mem[0], mem[1])
      seen('meminfo')
      continue
    }
    if (lin.isMeminfoCount(t)) continue
    const psi = lin.psiLine(t)
    if (psi) {
      if (psi.cgroup) {
        cgPressure ??= {}
        lin.applyPsi(cgPressure, psi)
        seen('cgroup')
      } else {
        pressure ??= {}
        lin.applyPsi(pressure, psi)
        seen('psi')
      }
      continue
    }
    const cg = lin.cgroupLine(t) ?? pathOnly(lin.cgroupPath(t))
    if (cg) {
      addCgroup(s, cg)
      seen('cgroup')
      continue
    }
    const nvh = lin.nvidiaHeader(t)
    if (nvh) {
      nv = nvh
      s.gpus = []
      mode = 'nvidia-smi'
      seen('nvidia-smi')
      continue
    }
    if (mode === 'nvidia-smi' && nv) {
      const gpu = lin.nvidiaRow(t, nv, s.gpus?.length ?? 0)
      if (gpu) {
        s.gpus?.push(gpu)
        continue
      }
      mode = undefined
    }
    if (lin.isSwapsHeader(t)) {
      swaps = { sizeBytes: 0, usedBytes: 0 }
      mode = 'swaps'
      seen('swaps')
      continue
    }
    if (mode === 'swaps' && swaps) {
      const row = lin.swapsRow(t)
      if (row) {
        swaps.sizeBytes += row.sizeBytes
        swaps.usedBytes += row.usedBytes
        continue
      }
      mode = undefined
    }
    const hw = mac.parseHwMemsize(t)
    if (hw !== undefined) {
      s.memTotalBytes = hw
      continue
    }
    const vm = lin.vmstatLine(t)
    if (vm) {
      addVmstat(s, vm[0], vm[1])
      seen('vmstat')
      continue
    }
    if (ERROR_LINE_RE.test(t)) {
      events.push({ record: 'trace-event', kind: 'source-error', ts, line: no, message: t.slice(0, 300) })
      continue
    }
    problems.add(file, no, 'unrecognised-line', 'a line no known section prints')
  }
  if (pressure && pressure.someTotalUs !== undefined) s.pressure = pressure as Pressure
  if (cgPressure && cgPressure.someTotalUs !== undefined) {
    s.cgroup ??= {}
    s.cgroup.pressure = cgPressure as Pressure
  }
  const drop = (field: string) => problems.add(file, headerLine, 'bad-value', `${field}: a figure no machine has (overflow or out of range); dropped`)
  // Raw figures first, so nothing is derived from an impossible one; then what was derived.
  dropImplausible(s as unknown as Record<string, unknown>, drop)
  finish(s)
  // meminfo's swap lines win; /proc/swaps alone still tells the totals.
  if (swaps && s.swapTotalBytes === undefined) {
    s.swapTotalBytes = swaps.sizeBytes
    s.swapUsedBytes = swaps.usedBytes
  }
  // Figures derived above (used, free %, swap) sit at the top: only those are checked again.
  dropImplausible(s as unknown as Record<string, unknown>, drop, { topOnly: true })
  return { sample: s, events }
}

function pathOnly(path: string | undefined) {
  return path === undefined ? undefined : { path, key: '', value: null }
}

function addVmStat(s: SystemSample, label: string, value: number, pageSize: number): void {
  s.vmStat ??= {}
  s.vmStat[label] = value
  const field = mac.VM_STAT_FIELDS[label]
  if (field) {
    const bytes = mac.vmStatLabelIsBytes(label) ? value : value * pageSize
    ;(s as Record<string, unknown>)[field] = bytes
  }
  const count = mac.VM_STAT_COUNTS[label]
  if (count) (s as Record<string, unknown>)[count] = value
}

function addMeminfo(s: SystemSample, key: string, bytes: number): void {
  s.meminfo ??= {}
  s.meminfo[key] = bytes
}

function addVmstat(s: SystemSample, key: string, value: number): void {
  s.vmstat ??= {}
  s.vmstat[key] = value
  if (key === 'pswpin') s.swapInPages = value
  if (key === 'pswpout') s.swapOutPages = value
}

function addCgroup(s: SystemSample, cg: { path?: string; key: string; value: number | null }): void {
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
function finish(s: SystemSample): void {
  const mi = s.meminfo
  if (mi) {
    s.platform = 'linux'
    const total = mi.MemTotal
    const avail = mi.MemAvailable
    if (total !== undefined) s.memTotalBytes = total
    if (mi.MemFree !== undefined) s.freeBytes = mi.MemFree
    if (avail !== undefined) s.availableBytes = avail
    if (total !== undefined && avail !== undefined) {
      s.usedBytes = Math.max(0, total - avail)
      if (total > 0) s.freePct = Math.round((avail / total) * 1000) / 10
    }
    const st = mi.SwapTotal
    const sf = mi.SwapFree
    if (st !== undefined) s.swapTotalBytes = st
    if (sf !== undefined) s.swapFreeBytes = sf
    if (st !== undefined && sf !== undefined) s.swapUsedBytes = Math.max(0, st - sf)
  } else if (s.sections.some(n => n === 'vm_stat' || n === 'memory_pressure' || n === 'swapusage')) {
    s.platform = 'macos'
  }
}

/** Largest figures an event may carry: a billion ticks is 31 years at one a second. */
const EVENT_LIMITS = { pid: MAX_PID, ticks: 1e9, bytes: MAX_BYTES } as const
/** The most of an event's text that is kept (a marker, an error message). */
const MAX_EVENT_TEXT = 1000

/** An event, or why the line is not one. */
function parseEvent(line: string, blockTs: string, no: number): TraceEvent | string {
  const m = EVENT_RE.exec(line)
  if (!m || !EVENT_KINDS.has(m[1] as string)) return 'memtrace event line is not `memtrace <kind> <json>`'
  let body: Record<string, unknown>
  try {
    body = JSON.parse(m[2] as string) as Record<string, unknown>
  } catch {
    return 'memtrace event line is not `memtrace <kind> <json>`'
  }
  // Its own time must be a real UTC instant; it is stored in the trace's form.
  const ms = typeof body.ts === 'string' ? parseTs(body.ts) : parseTs(blockTs)
  if (Number.isNaN(ms) || Number.isNaN(new Date(ms).getTime())) return 'memtrace event with a time that is not ISO-8601 with a zone; skipped'
  const ev: TraceEvent = {
    record: 'trace-event',
    kind: m[1] as TraceEvent['kind'],
    ts: typeof body.ts === 'string' ? (ms % 1000 ? new Date(ms).toISOString() : formatTs(ms)) : blockTs,
    line: no,
  }
  for (const key of ['text', 'model', 'blob', 'source', 'message', 'version', 'file'] as const) {
    if (typeof body[key] === 'string') ev[key] = (body[key] as string).slice(0, MAX_EVENT_TEXT)
  }
  for (const key of ['pid', 'ticks', 'bytes'] as const) {
    const v = body[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > EVENT_LIMITS[key]) return `memtrace event with a ${key} no machine has; skipped`
    ev[key] = v
  }
  return ev
}
