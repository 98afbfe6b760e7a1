/** Parsers for the macOS sections of a system block: vm_stat, memory_pressure, sysctl. */

const VM_STAT_HEADER_RE = /^Mach Virtual Memory Statistics: \(page size of (\d+) bytes\)/
const VM_STAT_LINE_RE = /^"?([A-Za-z][^":]*?)"?:\s+(\d+)\.?$/
const MP_HEADER_RE = /^The system has (\d+) \((\d+) pages with a page size of (\d+)\)/
const MP_FREE_RE = /^System-wide memory free percentage:\s*(\d+(?:\.\d+)?)%/
const MP_LINE_RE = /^[A-Za-z][A-Za-z /()-]*:\s*\d*\s*$/
const SWAP_RE = /^vm\.swapusage:\s*(.*)$/
const SWAP_PART_RE = /(total|used|free)\s*=\s*(\d+(?:[.,]\d+)?)\s*([KMGT]?)/g
const HW_MEMSIZE_RE = /^hw\.memsize:\s*(\d+)$/

export function vmStatPageSize(line: string): number | undefined {
  const m = VM_STAT_HEADER_RE.exec(line)
  return m ? Number(m[1]) : undefined
}

/** A vm_stat counter line: label and value as printed. */
export function vmStatCounter(line: string): [string, number] | undefined {
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
  const m = MP_HEADER_RE.exec(line)
  return m ? { totalBytes: Number(m[1]), pageSize: Number(m[3]) } : undefined
}

export function memoryPressureFreePct(line: string): number | undefined {
  const m = MP_FREE_RE.exec(line)
  return m ? Number(m[1]) : undefined
}

/** Other lines memory_pressure prints (its own counters and headings). */
export function isMemoryPressureLine(line: string): boolean {
  return MP_LINE_RE.test(line)
}

const UNIT: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/**
 * `vm.swapusage: total = 2048.00M  used = 1024.50M  free = 1023.50M  (encrypted)`;
 * locales with a decimal comma print `2048,00M`.
 */
export function parseSwapUsage(
  line: string,
): { total?: number; used?: number; free?: number } | undefined {
  const m = SWAP_RE.exec(line)
  if (!m) return undefined
  const out: { total?: number; used?: number; free?: number } = {}
  for (const p of (m[1] as string).matchAll(SWAP_PART_RE)) {
    const value = Number((p[2] as string).replace(',', '.')) * (UNIT[p[3] as string] ?? 1)
    out[p[1] as 'total' | 'used' | 'free'] = Math.round(value)
  }
  return out
}

export function parseHwMemsize(line: string): number | undefined {
  const m = HW_MEMSIZE_RE.exec(line)
  return m ? Number(m[1]) : undefined
}
