import type { LoadedModel, Pressure, SectionName, SystemSample, TraceEvent } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import { dropImplausible, MAX_BYTES, MAX_PID } from './ranges.js'
import { formatTs, parseTs } from './time.js'
import * as mac from './sections/macos.js'
import * as lin from './sections/linux.js'
import * as smi from './sections/nvidia.js'
import { FreeTable, isFreeHeader } from './sections/free.js'
import { isOllamaListHeader, isRowLike, ollamaPsHeader, ollamaPsRow, type PsColumns } from './sections/ollama.js'
import { type BlockMemo, readBody, startsJson } from './json-body.js'

/** A line of a block: its text and 1-based line number. */
export interface BlockLine {
  text: string
  no: number
}

type Mode = 'vm_stat' | 'vm_stat-columns' | 'nvidia-apps' | 'ollama-list' | 'memory_pressure' | 'ollama-ps' | 'nvidia-smi' | 'swaps' | 'swapon' | 'free' | undefined
const EVENT_RE = /^memtrace ([a-z-]+) (\{.*\})$/
const EVENT_KINDS = new Set(['marker', 'runner', 'start', 'missed', 'source-error', 'dropped'])
/** The body Go's HTTP server sends for a path it does not serve: an Ollama older than /api/ps. */
const NOT_FOUND = '404 page not found'
const MAX_SECTION_LINE = 4096
const SEPARATOR_RE = /^(?:-{3,}|#{3,}|\*{3,})$/
const WATCH_RE = /^Every \d+(?:\.\d+)?s: \S/
const ERROR_LINE_RE = /^(Error:|curl: \(\d+\)|jq: error)/

/**
 * Turns the lines of one `===== ts =====` block into a system sample plus the
 * memtrace events in it. Each section is recognised by its content, not its
 * position, so hand-made logs with sections missing or reordered still read.
 * `memo` carries what one block's reading can spare the next.
 */
export function parseBlock(
  file: string,
  ts: string,
  headerLine: number,
  lines: BlockLine[],
  problems: ProblemLog,
  memo?: BlockMemo,
): { sample: SystemSample; events: TraceEvent[] } {
  const s: SystemSample = { record: 'system-sample', ts, line: headerLine, platform: 'unknown', sections: [] }
  const events: TraceEvent[] = []
  const seen = (name: SectionName) => {
    if (!s.sections.includes(name)) s.sections.push(name)
  }
  let mode: Mode
  let pageSize = 4096
  let psColumns: PsColumns = { names: [], starts: [] }
  let nv: smi.NvidiaColumns | undefined
  let nvRows = 0
  const table = new smi.SmiTable()
  // One value per GPU per block: a GPU printed again (nvidia-smi -l, two samples) keeps its last.
  const gpus = new Map<string, smi.GpuMemory>()
  const gpuIds = new Map<string, string>()
  let apps: smi.AppsColumns | undefined
  // The processes of one listing (a table, or a compute-apps query): a second one replaces the first.
  let listing = { table: [] as smi.GpuProcess[], apps: [] as { gpu?: string; pid: number; usedBytes: number; no: number }[], listed: false }
  const newListing = (no: number) => {
    if (listing.listed) problems.add(file, no, 'duplicate', 'nvidia-smi: GPU processes listed twice in one block (a table and a query, nvidia-smi -l, or two samples); the last is kept')
    listing = { table: [], apps: [], listed: true }
  }
  const putGpu = (key: string, gpu: smi.GpuMemory, no: number, id?: string) => {
    if (id) gpuIds.set(id, key)
    const before = gpus.get(key)
    if (before) {
      gpu.index = before.index
      problems.add(file, no, 'duplicate', `nvidia-smi: GPU ${gpu.index} printed twice in one block (nvidia-smi -l, or two samples); the last is kept`)
    }
    gpus.set(key, gpu)
  }
  let pressure: Partial<Pressure> | undefined
  let cgPressure: Partial<Pressure> | undefined
  let swaps: { sizeBytes: number; usedBytes: number; partial?: boolean } | undefined
  let swaponCols: string[] = []
  // One listing of swap devices per block: /proc/swaps and swapon --show list the same devices.
  const newSwaps = (no: number) => {
    if (swaps) problems.add(file, no, 'duplicate', 'swap devices listed twice in one block (/proc/swaps and swapon --show, or two samples); the last is kept')
    swaps = { sizeBytes: 0, usedBytes: 0 }
  }
  let freeTable: FreeTable | undefined
  let vmCols: mac.VmStatColumns | undefined
  let vmColsLine = 0
  const endVmCols = () => {
    if (!vmCols) return
    const { vmStat, fields } = vmCols.fields(pageSize)
    s.vmStat = { ...s.vmStat, ...vmStat }
    Object.assign(s, fields)
    if (vmCols.skipped.size > 0) problems.add(file, vmColsLine, 'bad-value', `vm_stat: ${[...vmCols.skipped].join(', ')} printed in thousands (too wide for the column), not exact; skipped`)
    vmCols = undefined
  }
  let freeLine = 0
  const endFree = () => {
    if (!freeTable) return
    const r = freeTable.end()
    if (r.skipped) problems.add(file, freeLine, 'bad-value', r.skipped)
    if ('figures' in r) {
      if (s.free) problems.add(file, freeLine, 'duplicate', 'free: two tables in one block (free -s, or two samples); the last is kept')
      s.free = r.figures
    }
    freeTable = undefined
  }

  for (let i = 0; i < lines.length; i++) {
    const { text: raw, no } = lines[i] as BlockLine
    const t = raw.trim()
    if (freeTable) {
      if (mode === 'free' && t !== '' && freeTable.feed(t)) continue
      endFree()
    }
    if (t === '') {
      if (mode === 'ollama-ps' || mode === 'ollama-list' || mode === 'nvidia-smi' || mode === 'nvidia-apps' || mode === 'swaps' || mode === 'swapon') mode = undefined
      continue
    }
    if (startsJson(t, lines[i + 1]?.text)) {
      const body = readBody(lines, i, t, memo)
      seen('api-ps')
      mode = undefined
      if (!body) {
        // Never past the block, nor over what follows: the lines after it are read as usual.
        problems.add(file, no, 'bad-json', '/api/ps: JSON not closed before the end of its block')
        continue
      }
      i = body.end
      const parsed = body.read
      if ('error' in parsed) problems.add(file, no, 'bad-json', `/api/ps: ${parsed.error}`)
      else s.models = parsed.models
      continue
    }
    // No section prints a line this long but compact JSON (read above): no pattern is tried on it.
    if (t.length > MAX_SECTION_LINE) {
      problems.add(file, no, 'unrecognised-line', `a line of ${t.length} characters, longer than any known section prints`)
      continue
    }
    // `watch`'s title (`Every 1.0s: nvidia-smi   host: Mon Nov 23 …`) carries no figure.
    // So does a separator a loop prints between commands (`echo "---"`).
    const c0 = t.charCodeAt(0) // each pattern needs its first character: most lines try none
    if ((c0 === 69 /* E */ && WATCH_RE.test(t)) || ((c0 === 45 || c0 === 35 || c0 === 42) /* - # * */ && SEPARATOR_RE.test(t))) continue
    if (t === NOT_FOUND) {
      events.push({ record: 'trace-event', kind: 'source-error', ts, line: no, source: 'server', message: 'this Ollama has no /api/ps (it answered "404 page not found")' })
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
    if (mode === 'vm_stat' && t.endsWith('.')) {
      // vm_stat ends each counter with a period, which no sysctl, cgroup or meminfo line does.
      const kv = mac.vmStatCounter(t)
      if (kv) {
        addVmStat(s, kv[0], kv[1], pageSize)
        continue
      }
    }
    if (mode === 'vm_stat' || mode === 'vm_stat-columns') {
      const cols = mode === 'vm_stat' ? mac.vmStatColumns(t) : undefined
      if (cols) {
        endVmCols()
        vmCols = new mac.VmStatColumns(cols)
        vmColsLine = no
        mode = 'vm_stat-columns'
        continue
      }
      if (vmCols?.feed(t)) continue
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
    const cols = raw.includes('NAME') ? ollamaPsHeader(raw.trimEnd()) : undefined
    if (cols) {
      psColumns = cols
      s.cliModels = []
      mode = 'ollama-ps'
      seen('ollama-ps')
      continue
    }
    // `ollama list` tells what is on disk, not what is loaded: read past.
    if (isOllamaListHeader(raw)) {
      mode = 'ollama-list'
      continue
    }
    if (mode === 'ollama-list' && isRowLike(t)) continue
    if (mode === 'ollama-ps') {
      const row = ollamaPsRow(raw.trimEnd(), psColumns)
      if (typeof row === 'string') {
        problems.add(file, no, 'bad-value', row)
        continue
      }
      if (row) {
        ;(s.cliModels as LoadedModel[]).push(row)
        continue
      }
      mode = undefined
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
      if (psi.of === 'other') seen('psi')
      else if (psi.of === 'cgroup') {
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
    const nvh = smi.nvidiaHeader(t)
    if (nvh) {
      nv = nvh
      nvRows = 0
      mode = 'nvidia-smi'
      seen('nvidia-smi')
      continue
    }
    if (mode === 'nvidia-smi' && nv) {
      const row = smi.nvidiaRow(t, nv, nvRows)
      if (row) {
        nvRows++
        if ('skipped' in row) problems.add(file, no, 'bad-value', row.skipped)
        else putGpu(row.key, row.gpu, no, row.id)
        continue
      }
      mode = undefined
    }
    const aph = smi.appsHeader(t)
    if (aph) {
      newListing(no)
      apps = aph
      mode = 'nvidia-apps'
      seen('nvidia-smi')
      continue
    }
    if (mode === 'nvidia-apps' && apps) {
      const row = smi.appsRow(t, apps)
      if (row) {
        if (row.usedBytes === undefined) problems.add(file, no, 'bad-value', `nvidia-smi: the memory of process ${row.pid} is not given (Windows and WSL do not report it); skipped`)
        else listing.apps.push({ ...row, usedBytes: row.usedBytes, no })
        continue
      }
      mode = undefined
    }
    const tl = table.feed(t)
    if (tl) {
      seen('nvidia-smi')
      if (tl.started) newListing(no)
      if (tl.process) listing.table.push(tl.process)
      if (tl.skipped) problems.add(file, no, 'bad-value', tl.skipped)
      continue
    }
    if (lin.isSwapsHeader(t)) {
      newSwaps(no)
      mode = 'swaps'
      seen('swaps')
      continue
    }
    if (mode === 'swaps' && swaps) {
      if (addSwapRow(swaps, lin.swapsRow(t))) continue
      mode = undefined
    }
    const son = lin.swaponHeader(t)
    if (son) {
      swaponCols = son
      newSwaps(no)
      mode = 'swapon'
      seen('swaps')
      continue
    }
    if (mode === 'swapon' && swaps) {
      if (addSwapRow(swaps, lin.swaponRow(t, swaponCols))) continue
      if (t[0] === '/') {
        // A device left out would make the totals too small: none of them is used.
        problems.add(file, no, 'bad-value', 'swapon --show row whose sizes do not read; this block has no swap totals')
        swaps.partial = true
        continue
      }
      mode = undefined
    }
    const sc = mac.sysctlLine(t)
    if (sc) {
      addSysctl(s, sc[0], sc[1])
      seen('sysctl')
      continue
    }
    const vm = lin.vmstatLine(t)
    if (vm) {
      addVmstat(s, vm[0], vm[1])
      seen('vmstat')
      continue
    }
    if (isFreeHeader(t, lines[i + 1]?.text)) {
      freeTable = new FreeTable(t)
      freeLine = no
      mode = 'free'
      seen('free')
      continue
    }
    // vm_stat's counters last: `name: N` is also how sysctl, cgroup files and others print.
    if (mode === 'vm_stat') {
      const kv = mac.vmStatCounter(t)
      if (kv) {
        addVmStat(s, kv[0], kv[1], pageSize)
        continue
      }
      // Stay in vm_stat: one garbled counter must not lose the ones after it.
    }
    if ((c0 === 69 || c0 === 99 || c0 === 106) /* E c j */ && ERROR_LINE_RE.test(t)) {
      events.push({ record: 'trace-event', kind: 'source-error', ts, line: no, message: t.slice(0, 300) })
      continue
    }
    problems.add(file, no, 'unrecognised-line', 'a line no known section prints')
  }
  endFree()
  endVmCols()
  const unread = table.end()
  if (unread) problems.add(file, headerLine, 'bad-value', unread)
  for (const g of table.gpus) putGpu(g.key, g.gpu, headerLine)
  if (s.sections.includes('nvidia-smi')) s.gpus = [...gpus.values()]
  const listed = [...listing.table, ...appsOnGpus(listing.apps, gpus, gpuIds, (no, why) => problems.add(file, no, 'bad-value', why))]
  if (listed.length > 0) s.gpuProcesses = listed
  const fullOnly = (where: string) => problems.add(file, headerLine, 'bad-value', `PSI of ${where}: a full line without its some line; skipped`)
  if (pressure && pressure.someTotalUs !== undefined) s.pressure = pressure as Pressure
  else if (pressure) fullOnly('memory')
  if (cgPressure && cgPressure.someTotalUs !== undefined) {
    s.cgroup ??= {}
    s.cgroup.pressure = cgPressure as Pressure
  } else if (cgPressure) fullOnly("the cgroup's memory")
  const drop = (field: string) => problems.add(file, headerLine, 'bad-value', `${field}: a figure no machine has (overflow or out of range); dropped`)
  // Raw figures first, so nothing is derived from an impossible one; then what was derived.
  dropImplausible(s as unknown as Record<string, unknown>, drop)
  finish(s)
  // meminfo's swap lines win; /proc/swaps alone still tells the totals.
  if (swaps && !swaps.partial && s.swapTotalBytes === undefined) {
    s.swapTotalBytes = swaps.sizeBytes
    s.swapUsedBytes = swaps.usedBytes
  }
  // Figures derived above (used, free %, swap) sit at the top: only those are checked again.
  dropImplausible(s as unknown as Record<string, unknown>, drop, { topOnly: true })
  return { sample: s, events }
}

/**
 * Compute processes on their GPU's index: by the uuid (or bus id) the GPU
 * query gave, or, on a host with one GPU, that one.
 */
function appsOnGpus(
  rows: { gpu?: string; pid: number; usedBytes: number; no: number }[],
  gpus: Map<string, smi.GpuMemory>,
  ids: Map<string, string>,
  skip: (no: number, why: string) => void,
): smi.GpuProcess[] {
  const only = gpus.size === 1 ? [...gpus.values()][0] : undefined
  const out: smi.GpuProcess[] = []
  for (const r of rows) {
    const key = r.gpu === undefined ? undefined : ids.get(r.gpu)
    const gpu = key === undefined ? only : gpus.get(key)
    if (gpu) out.push({ gpu: gpu.index, pid: r.pid, type: 'C', usedBytes: r.usedBytes })
    else skip(r.no, `nvidia-smi: process ${r.pid} is on a GPU this block does not list; skipped`)
  }
  return out
}

/** Adds a device to the block's swap listing; false when the line was no device row. */
function addSwapRow(swaps: { sizeBytes: number; usedBytes: number }, row: { sizeBytes: number; usedBytes: number } | undefined): boolean {
  if (!row) return false
  swaps.sizeBytes += row.sizeBytes
  swaps.usedBytes += row.usedBytes
  return true
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

function addSysctl(s: SystemSample, key: string, value: number): void {
  s.sysctl ??= {}
  s.sysctl[key] = value
  if (key === 'hw.memsize') s.memTotalBytes = value
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
function memoryOf(s: SystemSample, total: number | undefined, free: number | undefined, avail: number | undefined): void {
  if (total !== undefined) s.memTotalBytes = total
  if (free !== undefined) s.freeBytes = free
  if (avail !== undefined) s.availableBytes = avail
  if (total !== undefined && avail !== undefined) {
    s.usedBytes = Math.max(0, total - avail)
    if (total > 0) s.freePct = Math.round((avail / total) * 1000) / 10
  }
}

function swapOf(s: SystemSample, total: number, free: number | undefined, used?: number): void {
  s.swapTotalBytes = total
  if (free !== undefined) s.swapFreeBytes = free
  const u = used ?? (free !== undefined ? Math.max(0, total - free) : undefined)
  if (u !== undefined) s.swapUsedBytes = u
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
