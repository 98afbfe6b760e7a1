/** Parsers for the macOS sections of a system block: vm_stat, memory_pressure, sysctl. */

const VM_STAT_HEADER_RE = /^Mach Virtual Memory Statistics: \(page size of (\d+) bytes\)/
const VM_STAT_LINE_RE = /^"?([A-Za-z][^":]*?)"?:\s+(\d+)\.?$/
const MP_HEADER_RE = /^The system has (\d+) \((\d+) pages with a page size of (\d+)\)/
const MP_FREE_RE = /^System-wide memory free percentage:\s*(\d+(?:\.\d+)?)%/
const MP_LINE_RE = /^[A-Za-z][A-Za-z /()-]*:\s*\d*\s*$/
/** With its key (`sysctl vm.swapusage`) or without (`sysctl -n vm.swapusage`). */
const SWAP_RE = /^(?:vm\.swapusage:\s*(.*)|(total\s*=\s*\S+\s+used\s*=.*))$/
const SWAP_PART_RE = /(total|used|free)\s*=\s*(\d+(?:[.,]\d+)?)\s*([KMGT]?)/g
const SYSCTL_RE = /^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+):\s*(\d+)$/

/*
 * Every line of a block is offered to most of these in turn, so each first
 * looks at the one character its pattern must start with: a line that cannot
 * match is turned away without running the pattern. Same answers, far less work.
 */
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
const isLower = (c: number) => c >= 97 && c <= 122

export function vmStatPageSize(line: string): number | undefined {
  if (line.charCodeAt(0) !== 77 /* M */) return undefined
  const m = VM_STAT_HEADER_RE.exec(line)
  return m ? Number(m[1]) : undefined
}

/** A vm_stat counter line: label and value as printed. */
export function vmStatCounter(line: string): [string, number] | undefined {
  const c = line.charCodeAt(0)
  if (c !== 34 /* " */ && !isLetter(c)) return undefined
  const m = VM_STAT_LINE_RE.exec(line)
  return m ? [m[1] as string, Number(m[2])] : undefined
}

/** Which field a vm_stat label feeds, and whether it is in pages. */
export const VM_STAT_FIELDS: Record<string, string> = {
  'Pages free': 'freeBytes',
  'Pages active': 'activeBytes',
  'Pages inactive': 'inactiveBytes',
  'Pages speculative': 'speculativeBytes',
  'Pages wired down': 'wiredBytes',
  'Pages occupied by compressor': 'compressorBytes',
  'File-backed pages': 'fileBackedBytes',
  'Anonymous pages': 'anonymousBytes',
}

export const VM_STAT_COUNTS: Record<string, string> = {
  Pageins: 'pageins',
  Pageouts: 'pageouts',
  Swapins: 'swapins',
  Swapouts: 'swapouts',
}

/** vm_stat labels that carry bytes rather than pages (newer macOS). */
export function vmStatLabelIsBytes(label: string): boolean {
  return /bytes/i.test(label)
}

export function memoryPressureHeader(
  line: string,
): { totalBytes: number; pageSize: number } | undefined {
  if (line.charCodeAt(0) !== 84 /* T */) return undefined
  const m = MP_HEADER_RE.exec(line)
  return m ? { totalBytes: Number(m[1]), pageSize: Number(m[3]) } : undefined
}

export function memoryPressureFreePct(line: string): number | undefined {
  if (line.charCodeAt(0) !== 83 /* S */) return undefined
  const m = MP_FREE_RE.exec(line)
  return m ? Number(m[1]) : undefined
}

/** Other lines memory_pressure prints (its own counters and headings). */
export function isMemoryPressureLine(line: string): boolean {
  return isLetter(line.charCodeAt(0)) && MP_LINE_RE.test(line)
}

const UNIT: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/**
 * `vm.swapusage: total = 2048.00M  used = 1024.50M  free = 1023.50M  (encrypted)`;
 * locales with a decimal comma print `2048,00M`.
 */
export function parseSwapUsage(
  line: string,
): { total?: number; used?: number; free?: number } | undefined {
  const c = line.charCodeAt(0)
  if (c !== 118 /* v */ && c !== 116 /* t */) return undefined
  const m = SWAP_RE.exec(line)
  if (!m) return undefined
  const out: { total?: number; used?: number; free?: number } = {}
  for (const p of ((m[1] ?? m[2]) as string).matchAll(SWAP_PART_RE)) {
    const value = Number((p[2] as string).replace(',', '.')) * (UNIT[p[3] as string] ?? 1)
    out[p[1] as 'total' | 'used' | 'free'] = Math.round(value)
  }
  return out
}

/** A numeric sysctl printed as `name: value` (`hw.memsize: 17179869184`, `kern.memorystatus_level: 41`). */
export function sysctlLine(line: string): [string, number] | undefined {
  if (!isLower(line.charCodeAt(0))) return undefined
  const m = SYSCTL_RE.exec(line)
  return m ? [m[1] as string, Number(m[2])] : undefined
}

/** Interval mode's columns (`vm_stat 5`), 10.9 on and before, and the field each feeds. */
const COLUMN_GAUGES: Record<string, string> = {
  free: 'freeBytes',
  active: 'activeBytes',
  specul: 'speculativeBytes',
  spec: 'speculativeBytes',
  inactive: 'inactiveBytes',
  wired: 'wiredBytes',
  wire: 'wiredBytes',
  'file-backed': 'fileBackedBytes',
  anonymous: 'anonymousBytes',
  cmprssor: 'compressorBytes',
}
const COLUMN_COUNTS: Record<string, string> = { pageins: 'pageins', pageout: 'pageouts', swapins: 'swapins', swapouts: 'swapouts' }
/** Columns that hold a level (the rest count events: since boot on a header's first row, then per interval). */
const LEVELS = new Set(['free', 'active', 'specul', 'spec', 'inactive', 'throttle', 'wired', 'wire', 'prgable', 'file-backed', 'anonymous', 'cmprssed', 'cmprssor'])

/** The column header of interval mode, or undefined. */
export function vmStatColumns(line: string): string[] | undefined {
  return /^free\s+active\s+spec(?:ul)?\s+inactive\s/.test(line) ? line.split(/\s+/) : undefined
}

/**
 * Follows interval mode's rows under one header. The first row after a
 * header counts since boot, the next ones count what happened in their
 * interval, so a counter's total is the first row plus the rest. A figure
 * too wide for its column is printed in thousands (`5919477K`): it is not
 * exact, and is skipped.
 */
export class VmStatColumns {
  readonly #cols: string[]
  #rows = 0
  readonly #levels = new Map<string, number>()
  readonly #counts = new Map<string, number | undefined>()
  readonly skipped = new Set<string>()

  constructor(cols: string[]) {
    this.#cols = cols
  }

  /** True when the line is a row of the table. */
  feed(line: string): boolean {
    const cells = line.split(/\s+/)
    if (cells.length !== this.#cols.length || !cells.every(c => /^\d+[KMG]?$/.test(c))) return false
    const first = this.#rows++ === 0
    this.#cols.forEach((col, i) => {
      const cell = cells[i] as string
      const exact = /^\d+$/.test(cell)
      if (LEVELS.has(col)) {
        if (exact) this.#levels.set(col, Number(cell))
        else {
          this.#levels.delete(col)
          this.skipped.add(col)
        }
        return
      }
      const before = first ? 0 : this.#counts.get(col)
      if (!exact) this.skipped.add(col)
      this.#counts.set(col, exact && before !== undefined ? before + Number(cell) : undefined)
    })
    return true
  }

  /** The figures of the last row (levels) and the totals (counts), by sample field. */
  fields(pageSize: number): { vmStat: Record<string, number>; fields: Record<string, number> } {
    const vmStat: Record<string, number> = {}
    const fields: Record<string, number> = {}
    for (const [col, v] of this.#levels) {
      vmStat[col] = v
      const f = COLUMN_GAUGES[col]
      if (f) fields[f] = v * pageSize
    }
    for (const [col, v] of this.#counts) {
      if (v === undefined) continue
      vmStat[col] = v
      const f = COLUMN_COUNTS[col]
      if (f) fields[f] = v
    }
    return { vmStat, fields }
  }
}
