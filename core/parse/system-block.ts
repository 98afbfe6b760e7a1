import type { LoadedModel, Pressure, SectionName, SystemSample, TraceEvent } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import { parseEvent } from './events.js'
import { GpuBlock } from './gpu-block.js'
import { PerBlock } from './per-block.js'
import { otherLine } from './server-log/other-lines.js'
import { stripPrefix } from './server-log/prefix.js'
import { dropImplausible } from './ranges.js'
import { addCgroup, addMeminfo, addSysctl, addVmstat, finish, listedBy, pathOnly, VmStatCounters } from './sample-fields.js'
import * as mac from './sections/macos.js'
import * as lin from './sections/linux.js'
import { FreeTable, isFreeHeader } from './sections/free.js'
import { OtherGpuLines } from './other-gpus.js'
import { type BlockProc, WindowsLines } from './windows-lines.js'
import { isOllamaListHeader, isRowLike, ollamaPsHeader, ollamaPsRow, type PsColumns } from './sections/ollama.js'
import { type BlockMemo, readBody, startsJson } from './json-body.js'

/** A line of a block: its text and 1-based line number. */
export interface BlockLine {
  text: string
  no: number
}

type Mode = 'vm_stat' | 'vm_stat-columns' | 'nvidia-apps' | 'ollama-list' | 'memory_pressure' | 'ollama-ps' | 'nvidia-smi' | 'swaps' | 'swapon' | 'free' | undefined
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
): { sample: SystemSample; events: TraceEvent[]; procs: BlockProc[] } {
  const s: SystemSample = { record: 'system-sample', ts, line: headerLine, platform: 'unknown', sections: [] }
  const events: TraceEvent[] = []
  const seen = (name: SectionName) => {
    if (!s.sections.includes(name)) s.sections.push(name)
  }
  let mode: Mode
  let pageSize = 4096
  let psColumns: PsColumns = { names: [], starts: [] }
  /** The server a `memtrace server` line named: the listings after it are its own. */
  let server: string | undefined
  const gpu = new GpuBlock(problems, file)
  const otherGpus = new OtherGpuLines(problems, file, gpu, seen)
  const windows = new WindowsLines(problems, file, seen)
  let pressure: Partial<Pressure> | undefined
  let cgPressure: Partial<Pressure> | undefined
  let swaps: { sizeBytes: number; usedBytes: number; partial?: boolean } | undefined
  let swaponCols: string[] = []
  // /proc/swaps and swapon --show list the same devices.
  const swapListings = new PerBlock<NonNullable<typeof swaps>>(problems, file, () => 'swap devices listed twice in one block (/proc/swaps and swapon --show, or two samples); the last is kept')
  const newSwaps = (no: number) => {
    swaps = swapListings.put(no, { sizeBytes: 0, usedBytes: 0 })
  }
  const freeTables = new PerBlock<NonNullable<SystemSample['free']>>(problems, file, () => 'free: two tables in one block (free -s, or two samples); the last is kept')
  let freeTable: FreeTable | undefined
  let vmCols: mac.VmStatColumns | undefined
  let vmColsLine = 0
  const counters = new VmStatCounters(memo)
  const endVmCols = () => {
    if (!vmCols) return
    counters.flush(s)
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
    if ('figures' in r) s.free = freeTables.put(freeLine, r.figures)
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
      otherGpus.blank()
      windows.blank()
      continue
    }
    if (startsJson(t, lines[i + 1]?.text)) {
      const body = readBody(lines, i, t, memo)
      mode = undefined
      if (!body) {
        seen('api-ps')
        // Never past the block, nor over what follows: the lines after it are read as usual.
        problems.add(file, no, 'bad-json', '/api/ps: JSON not closed before the end of its block')
        continue
      }
      i = body.end
      const parsed = body.read
      if ('amdSmi' in parsed) {
        otherGpus.amdSmiJson(parsed.amdSmi, no)
        continue
      }
      seen('api-ps')
      if ('error' in parsed) problems.add(file, no, 'bad-json', `/api/ps: ${parsed.error}`)
      else if (server !== undefined) s.models = listedBy(s, server, s.models, parsed.models)
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
        if (ev.kind === 'server') server = ev.address
        events.push(ev)
        seen('memtrace')
      } else problems.add(file, no, 'bad-value', ev)
      continue
    }
    if (windows.line(raw, t, lines[i + 1]?.text, no)) continue
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
        counters.add(s, kv[0], kv[1], pageSize)
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
      s.cliModels = server !== undefined ? listedBy(s, server, s.cliModels, []) : []
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
        ;(s.cliModels as LoadedModel[]).push(server !== undefined ? { ...row, server } : row)
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
    const other = otherGpus.line(t, lines[i + 1]?.text, no)
    if (other) {
      if (other === 'and-next') i++
      continue
    }
    if (gpu.queryHeader(t)) {
      mode = 'nvidia-smi'
      seen('nvidia-smi')
      continue
    }
    if (mode === 'nvidia-smi') {
      if (gpu.queryRow(t, no)) continue
      mode = undefined
    }
    if (gpu.appsHeader(t, no)) {
      mode = 'nvidia-apps'
      seen('nvidia-smi')
      continue
    }
    if (mode === 'nvidia-apps') {
      if (gpu.appsRow(t, no)) continue
      mode = undefined
    }
    if (gpu.tableLine(t, no)) {
      seen('nvidia-smi')
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
        counters.add(s, kv[0], kv[1], pageSize)
        continue
      }
      // Stay in vm_stat: one garbled counter must not lose the ones after it.
    }
    // The kernel's OOM kill, pasted from dmesg or journalctl -k.
    if (t.includes('Killed process')) {
      const kill = kernelKill(t, ts, no)
      if (kill) {
        events.push(kill)
        continue
      }
    }
    if ((c0 === 69 || c0 === 99 || c0 === 106) /* E c j */ && ERROR_LINE_RE.test(t)) {
      events.push({ record: 'trace-event', kind: 'source-error', ts, line: no, message: t.slice(0, 300) })
      continue
    }
    problems.add(file, no, 'unrecognised-line', 'a line no known section prints')
  }
  endFree()
  endVmCols()
  counters.flush(s)
  gpu.end(s, headerLine)
  otherGpus.end(s)
  const procs = windows.end(s)
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
  return { sample: s, events, procs }
}

/** A pasted `Killed process N (name) … anon-rss:…kB` line as the daemon's `oom-kill` event, the kernel's figure as its bytes. */
function kernelKill(t: string, ts: string, no: number): TraceEvent | undefined {
  const e = otherLine(stripPrefix(t).body)
  if (!e || 'why' in e || e.kind !== 'kernel-oom-kill' || e.pid === undefined) return undefined
  const rss = e.figures?.anonRssBytes
  return { record: 'trace-event', kind: 'oom-kill', ts, line: no, pid: e.pid, ...(e.process ? { text: e.process } : {}), ...(rss !== undefined ? { bytes: rss } : {}), source: 'kernel', message: t.slice(0, 300) }
}

/** Adds a device to the block's swap listing; false when the line was no device row. */
function addSwapRow(swaps: { sizeBytes: number; usedBytes: number }, row: { sizeBytes: number; usedBytes: number } | undefined): boolean {
  if (!row) return false
  swaps.sizeBytes += row.sizeBytes
  swaps.usedBytes += row.usedBytes
  return true
}
