/**
 * What Windows prints about processes and memory, pasted into a block of the
 * system log: the block's process listing (tasklist, Get-Process, a process
 * CSV) becomes the process samples of the block's time, and systeminfo's and
 * the counters' memory figures its system figures. One listing per source per
 * block: a listing printed again replaces the earlier (a `duplicate`).
 */
import type { SystemSample } from '../../schemas/index.js'
import type { ProblemLog } from './problems.js'
import { PerBlock } from './per-block.js'
import { memoryOf } from './sample-fields.js'
import { MAX_BYTES, MAX_KIB, MAX_PID } from './ranges.js'
import * as win from './sections/windows.js'

type Mode = 'tasklist' | 'tasklist-csv' | 'proc-csv' | 'get-process' | 'systeminfo' | 'memory-lines' | 'get-counter' | 'counter-csv' | 'rule' | undefined
type Figures = Partial<Record<'memTotalBytes' | 'availableBytes' | 'commitBytes' | 'commitLimitBytes' | 'pagesPerSec' | 'pageFileUsagePct', number>>

/** One process on one adapter, from the GPU Process Memory counters: bytes as the counters gave them. */
interface GpuCounterRow {
  pid: number
  adapter: string
  dedicated?: number
  shared?: number
}

/** A process row of a listing, with its line. */
export interface BlockProc extends win.WinProc {
  line: number
}

export class WindowsLines {
  readonly #problems: ProblemLog
  readonly #file: string
  readonly #seen: (name: SystemSample['sections'][number]) => void
  #mode: Mode
  #widths: number[] = []
  #gpCols: string[] = []
  #csvCols: win.ProcCsvColumns | undefined
  #counterCols: (string | undefined)[] = []
  /** Get-Counter: the counter whose value the next line holds. */
  #pending: string | undefined
  #rows: BlockProc[] | undefined
  /** The counters' sample being read: where it starts, and its memory figures and GPU rows, each made at its first value. */
  #sampleAt = 0
  #counters: Figures | undefined
  #gpuRows: Map<string, GpuCounterRow> | undefined
  #info: Figures | undefined
  readonly #listings: PerBlock<BlockProc[]>
  readonly #counterListings: PerBlock<Figures>
  readonly #gpuListings: PerBlock<Map<string, GpuCounterRow>>
  readonly #infoListings: PerBlock<Figures>
  /** Counters not read, each said once per block. */
  readonly #skipped = new Set<string>()

  constructor(problems: ProblemLog, file: string, seen: (name: SystemSample['sections'][number]) => void) {
    this.#problems = problems
    this.#file = file
    this.#seen = seen
    this.#listings = new PerBlock(problems, file, () => 'Windows process listing printed twice in one block; the last is kept')
    this.#counterListings = new PerBlock(problems, file, () => 'performance counters sampled twice in one block (typeperf -sc, Get-Counter -MaxSamples); the last sample is kept')
    this.#gpuListings = new PerBlock(problems, file, () => 'GPU Process Memory counters sampled twice in one block (typeperf -sc, Get-Counter -MaxSamples); the last sample is kept')
    this.#infoListings = new PerBlock(problems, file, () => 'systeminfo printed twice in one block; the last is kept')
  }

  /** A blank line: the end of a table or CSV (Get-Counter puts blank lines between its counters). */
  blank(): void {
    if (this.#mode !== 'get-counter') this.#mode = undefined
  }

  /** True when the line was one of these listings' (`t` is `raw` trimmed, `next` the line after). */
  line(raw: string, t: string, next: string | undefined, no: number): boolean {
    const mode = this.#mode
    if (mode !== undefined && this.#inMode(mode, raw, t, no)) return true
    this.#mode = undefined
    const c = t.charCodeAt(0)
    // A CSV header is quoted fields only: it ends in a quote (vm_stat's quoted counters end in a period).
    if (c === 34 /* " */ && t.charCodeAt(t.length - 1) === 34) return this.#csvHeader(t, no)
    if (next !== undefined && next.charCodeAt(0) === 61 /* = */ && !/\d/.test(t)) {
      const widths = win.tasklistRule(next.trim())
      if (widths) {
        this.#widths = widths
        this.#newListing(no, 'tasklist')
        this.#mode = 'rule'
        return true
      }
    }
    if (c === 72 /* H */ || c === 78 /* N */) {
      const cols = win.getProcessHeader(t)
      if (cols) {
        this.#gpCols = cols
        this.#newListing(no, 'get-process')
        this.#mode = 'get-process'
        return true
      }
      if (win.isSysteminfoStart(t)) {
        this.#newInfo(no)
        this.#mode = 'systeminfo'
        return true
      }
    }
    // typeperf's last words on the console (English).
    if (t === 'Exiting, please wait...' || t === 'The command completed successfully.') return true
    if (c === 84 /* T */ && win.isGetCounterHeader(t)) {
      this.#newCounters(no, 'get-counter')
      this.#mode = 'get-counter'
      return true
    }
    const si = win.systeminfoLine(t)
    if (si !== undefined) {
      // `systeminfo | findstr Memory`: its lines without the rest, and nothing else read past.
      if (!this.#info) this.#newInfo(no)
      this.#mode = 'memory-lines'
      this.#infoLine(si, no)
      return true
    }
    return false
  }

  #inMode(mode: NonNullable<Mode>, raw: string, t: string, no: number): boolean {
    switch (mode) {
      case 'rule':
        this.#mode = 'tasklist'
        return true
      case 'tasklist':
        return this.#row(win.tasklistRow(raw, this.#widths), no)
      case 'get-process':
        if (/^-+(?:\s+-+)+$/.test(t)) return true
        return this.#row(win.getProcessRow(t, this.#gpCols), no)
      case 'tasklist-csv':
      case 'proc-csv': {
        const f = win.csvFields(t)
        if (!f) return false
        return this.#row(mode === 'proc-csv' ? win.procCsvRow(f, this.#csvCols as win.ProcCsvColumns) : win.tasklistCsvRow(f), no)
      }
      case 'counter-csv': {
        const f = win.csvFields(t)
        if (!f || f.length !== this.#counterCols.length + 1) return false
        // Each row is a sample: the last in the block is kept.
        this.#newCounters(no, 'counter-csv')
        this.#counterCols.forEach((key, i) => this.#counter(key, f[i + 1] as string, no))
        return true
      }
      case 'systeminfo':
      case 'memory-lines': {
        const si = win.systeminfoLine(t)
        if (si !== undefined) {
          this.#infoLine(si, no)
          return true
        }
        return mode === 'systeminfo' && win.isSysteminfoOther(raw)
      }
      case 'get-counter': {
        if (/^-+\s+-+$/.test(t)) return true
        if (this.#pending !== undefined) {
          const key = this.#pending
          this.#pending = undefined
          // A path's value is the one word on the next line: one that is no figure is skipped, said, and the view read on.
          if (!/\s/.test(t)) {
            if (/^[\d.,]+$/.test(t)) this.#counter(key, t, no)
            else this.#problems.add(this.#file, no, 'bad-value', `counter \\${key}: "${t.slice(0, 30)}" is not a figure; skipped`)
            return true
          }
        }
        const path = win.getCounterPath(t)
        if (path === undefined) return false
        // A second timestamp: another sample of the same counters.
        if (!t.startsWith('\\\\') && (this.#counters || this.#gpuRows)) this.#newCounters(no, 'get-counter')
        this.#pending = path
        return true
      }
    }
  }

  #csvHeader(t: string, no: number): boolean {
    const f = win.csvFields(t)
    if (!f) return false
    const counters = win.counterCsvHeader(f)
    if (counters) {
      this.#counterCols = counters
      for (const [i, key] of counters.entries()) if (key === undefined) this.#skipOnce(`counter CSV: column ${i + 2} "${(f[i + 1] as string).slice(0, 60)}" is not a counter path; skipped`, no)
      this.#mode = 'counter-csv'
      this.#seen('counter-csv')
      return true
    }
    if (win.isTasklistCsv(f)) {
      this.#newListing(no, 'tasklist')
      this.#mode = 'tasklist-csv'
      return true
    }
    const cols = win.procCsvHeader(f)
    if (cols) {
      this.#csvCols = cols
      this.#newListing(no, 'process-csv')
      this.#mode = 'proc-csv'
      return true
    }
    return false
  }

  #row(r: win.WinProc | string | undefined, no: number): boolean {
    if (r === undefined) return false
    if (typeof r === 'string') this.#problems.add(this.#file, no, 'bad-value', r)
    else if (!(r.pid <= MAX_PID && r.ppid <= MAX_PID && r.rssKb <= MAX_KIB && r.vszKb <= MAX_KIB)) this.#problems.add(this.#file, no, 'bad-value', 'a process row with a PID or size no machine has (overflow); skipped')
    else if (win.isOllamaName(r.name) || win.isOllamaName(r.command)) this.#rows?.push({ ...r, line: no })
    return true
  }

  #newListing(no: number, section: 'tasklist' | 'get-process' | 'process-csv'): void {
    this.#rows = this.#listings.put(no, [])
    this.#seen(section)
  }

  /**
   * A new sample of counters. Its memory figures and its GPU rows are each a
   * listing of their own, made at their first value: a sample of the GPU
   * counters alone (the daemon's, beside typeperf's CSV) leaves the memory
   * figures of the block as they were.
   */
  #newCounters(no: number, section: 'get-counter' | 'counter-csv'): void {
    this.#sampleAt = no
    this.#counters = undefined
    this.#gpuRows = undefined
    this.#seen(section)
  }

  #newInfo(no: number): void {
    this.#info = this.#infoListings.put(no, {})
    this.#seen('systeminfo')
  }

  #infoLine(si: Exclude<ReturnType<typeof win.systeminfoLine>, undefined>, no: number): void {
    if (typeof si === 'string') this.#problems.add(this.#file, no, 'bad-value', si)
    else if (si.field && this.#info) this.#info[si.field as keyof Figures] = si.bytes
  }

  #counter(key: string | undefined, cell: string, no: number): void {
    if (key === undefined) return
    const gpu = win.gpuProcessCounter(key)
    if (gpu) return this.#gpuCounter(gpu, key, cell, no)
    const v = win.counterValue(key, cell)
    if (v === undefined) return
    if ('skip' in v) this.#skipOnce(v.skip, no)
    else (this.#counters ??= this.#counterListings.put(this.#sampleAt, {}))[v.field as keyof Figures] = v.value
  }

  /** Dedicated and Shared Usage, in whole bytes, by process and adapter; the set's other counters are read past. */
  #gpuCounter(g: { pid: number; adapter: string; counter: string }, key: string, cell: string, no: number): void {
    const kind = g.counter === 'dedicated usage' ? 'dedicated' : g.counter === 'shared usage' ? 'shared' : undefined
    if (!kind) return
    const v = win.counterBytes(cell)
    if (v === 'blank') return
    if (v === undefined || v > MAX_BYTES) return this.#skipOnce(`counter \\${key}: "${cell.trim().slice(0, 30)}" is not a whole number of bytes; skipped`, no)
    if (g.pid > MAX_PID) return this.#problems.add(this.#file, no, 'bad-value', `counter \\${key}: pid ${g.pid}, a PID no machine has (overflow); skipped`)
    const rows = (this.#gpuRows ??= this.#gpuListings.put(this.#sampleAt, new Map()))
    const at = `${g.pid} ${g.adapter}`
    const row = rows.get(at) ?? { pid: g.pid, adapter: g.adapter }
    if (row[kind] !== undefined) this.#problems.add(this.#file, no, 'duplicate', `counter \\${key} printed twice in one sample; the last is kept`)
    row[kind] = v
    rows.set(at, row)
  }

  #skipOnce(message: string, no: number): void {
    if (this.#skipped.has(message)) return
    this.#skipped.add(message)
    this.#problems.add(this.#file, no, 'bad-value', message)
  }

  /**
   * The block's figures into `s` (counters over systeminfo: theirs are exact
   * bytes, systeminfo's whole MB), the platform when any was read; and the
   * process rows of the block's listing.
   */
  end(s: SystemSample): BlockProc[] {
    const f: Figures = { ...this.#infoListings.get(), ...this.#counterListings.get() }
    if (Object.keys(f).length > 0) {
      s.platform = 'windows'
      Object.assign(s, f)
      memoryOf(s, s.memTotalBytes, undefined, s.availableBytes)
    }
    this.#gpuEnd(s)
    return this.#listings.get() ?? []
  }

  /**
   * The GPU counters' rows as the block's GPU processes, beside any
   * nvidia-smi listed: one per process and adapter with its Dedicated Usage
   * (the figure nvidia-smi gives per process), Shared Usage beside it. The
   * adapter is named by its LUID, the same in every block (never numbered
   * by the adapters a block happens to list), and has no nvidia-smi index.
   */
  #gpuEnd(s: SystemSample): void {
    const rows = [...(this.#gpuListings.get()?.values() ?? [])].filter(r => r.dedicated !== undefined)
    if (rows.length === 0) return
    rows.sort((a, b) => a.pid - b.pid || a.adapter.localeCompare(b.adapter))
    const listed = rows.map(r => ({ pid: r.pid, usedBytes: r.dedicated as number, ...(r.shared !== undefined ? { sharedBytes: r.shared } : {}), adapter: r.adapter, source: 'gpu-counters' as const }))
    s.gpuProcesses = [...(s.gpuProcesses ?? []), ...listed]
  }
}
