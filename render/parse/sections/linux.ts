/** Parsers for the Linux sections of a system block. */
import type { Pressure } from '../../../schemas/index.js'

const MEMINFO_RE = /^([A-Za-z][\w()]*):\s+(\d+)(?:\s+kB)?$/
const PSI_RE =
  /^(?:(\S*memory\.pressure):\s*)?(some|full) avg10=(\d+(?:\.\d+)?) avg60=(\d+(?:\.\d+)?) avg300=(\d+(?:\.\d+)?) total=(\d+)$/
const VMSTAT_RE = /^([a-z][a-z0-9_]*) (\d+)$/
const CGROUP_RE =
  /^(?:(\S*?)\/)?(memory\.(?:current|max|peak|swap\.current|usage_in_bytes|limit_in_bytes|max_usage_in_bytes|memsw\.usage_in_bytes))\s*[:=]\s*(\d+|max)$/
const CGROUP_PATH_RE = /^cgroup:\s*(\S.*)$/
const SWAPS_HEADER_RE = /^Filename\s+Type\s+Size\s+Used\s+Priority$/
const SWAPS_ROW_RE = /^(\S+)\s+(partition|file)\s+(\d+)\s+(\d+)\s+(-?\d+)$/

/** The header `cat /proc/swaps` prints, even on a host with no swap. */
export function isSwapsHeader(line: string): boolean {
  return SWAPS_HEADER_RE.test(line)
}

/** A `/proc/swaps` row → size and used, in bytes (the file counts KiB). */
export function swapsRow(line: string): { sizeBytes: number; usedBytes: number } | undefined {
  const m = SWAPS_ROW_RE.exec(line)
  return m ? { sizeBytes: Number(m[3]) * 1024, usedBytes: Number(m[4]) * 1024 } : undefined
}

/** `MemTotal:  24576000 kB` → [key, bytes]. Keys without a unit are counts. */
export function meminfoLine(line: string): [string, number] | undefined {
  const m = MEMINFO_RE.exec(line)
  if (!m || !line.endsWith('kB')) return undefined
  return [m[1] as string, Number(m[2]) * 1024]
}

export function isMeminfoCount(line: string): boolean {
  return /^HugePages_\w+:\s+\d+$/.test(line)
}

/** One PSI line; `cgroup` is true when it came from a cgroup's memory.pressure. */
export function psiLine(
  line: string,
): { cgroup: boolean; which: 'some' | 'full'; avg10: number; avg60: number; avg300: number; totalUs: number } | undefined {
  const m = PSI_RE.exec(line)
  if (!m) return undefined
  return {
    cgroup: m[1] !== undefined,
    which: m[2] as 'some' | 'full',
    avg10: Number(m[3]),
    avg60: Number(m[4]),
    avg300: Number(m[5]),
    totalUs: Number(m[6]),
  }
}

export function applyPsi(target: Partial<Pressure>, p: NonNullable<ReturnType<typeof psiLine>>): void {
  if (p.which === 'some') {
    target.someAvg10 = p.avg10
    target.someAvg60 = p.avg60
    target.someAvg300 = p.avg300
    target.someTotalUs = p.totalUs
  } else {
    target.fullAvg10 = p.avg10
    target.fullAvg60 = p.avg60
    target.fullAvg300 = p.avg300
    target.fullTotalUs = p.totalUs
  }
}

/** `pswpin 123` from /proc/vmstat. */
export function vmstatLine(line: string): [string, number] | undefined {
  const m = VMSTAT_RE.exec(line)
  return m ? [m[1] as string, Number(m[2])] : undefined
}

/** Values above this in a v1 limit file mean "no limit". */
const V1_UNLIMITED = 2 ** 60

/** `…/memory.current:123` (grep -H style) or `memory.max: max`. */
export function cgroupLine(
  line: string,
): { path?: string; key: string; value: number | null } | undefined {
  const m = CGROUP_RE.exec(line)
  if (!m) return undefined
  const raw = m[3] as string
  const value = raw === 'max' ? null : Number(raw)
  return {
    ...(m[1] ? { path: m[1] } : {}),
    key: m[2] as string,
    value: value !== null && value >= V1_UNLIMITED ? null : value,
  }
}

export function cgroupPath(line: string): string | undefined {
  return CGROUP_PATH_RE.exec(line)?.[1]
}

/** Columns of `nvidia-smi --query-gpu=… --format=csv` found in its header. */
export interface NvidiaColumns {
  index: number
  name: number
  used: number
  total: number
  unitMiB: boolean
}

export function nvidiaHeader(line: string): NvidiaColumns | undefined {
  if (!line.includes('memory.used') || !line.includes(',')) return undefined
  const cols = line.split(',').map(c => c.trim())
  const find = (name: string) => cols.findIndex(c => c === name || c.startsWith(`${name} `))
  const cols2: NvidiaColumns = {
    index: find('index'),
    name: find('name'),
    used: find('memory.used'),
    total: find('memory.total'),
    unitMiB: true,
  }
  return cols2.used < 0 ? undefined : cols2
}

const MIB = 1024 * 1024

/** One CSV row; values may carry ` MiB` or be bare numbers (nounits). */
export function nvidiaRow(
  line: string,
  cols: NvidiaColumns,
  ordinal: number,
): { index: number; name?: string; usedBytes: number; totalBytes: number } | undefined {
  const cells = line.split(',').map(c => c.trim())
  const num = (i: number) => {
    const m = /^(\d+(?:\.\d+)?)\s*(MiB|GiB)?$/.exec(cells[i] ?? '')
    if (!m) return NaN
    return Number(m[1]) * (m[2] === 'GiB' ? 1024 * MIB : MIB)
  }
  const used = num(cols.used)
  const total = cols.total >= 0 ? num(cols.total) : NaN
  if (Number.isNaN(used) || Number.isNaN(total)) return undefined
  const idx = cols.index >= 0 ? Number(cells[cols.index]) : ordinal
  const name = cols.name >= 0 ? cells[cols.name] : undefined
  return {
    index: Number.isInteger(idx) ? idx : ordinal,
    ...(name ? { name } : {}),
    usedBytes: used,
    totalBytes: total,
  }
}
