/** Parsers for the Linux sections of a system block. */
import type { Pressure } from '../../../schemas/index.js'

const MEMINFO_RE = /^([A-Za-z][\w()]*):\s+(\d+)(?:\s+kB)?$/
/** A PSI line, alone (`cat`) or after its file's name (`grep -R . /proc/pressure`, a cgroup's memory.pressure). */
const PSI_RE = /^(?:(\S+):)?(some|full) avg10=(\d+(?:\.\d+)?) avg60=(\d+(?:\.\d+)?) avg300=(\d+(?:\.\d+)?) total=(\d+)$/
const VMSTAT_RE = /^([a-z][a-z0-9_]*) (\d+)$/
const CGROUP_RE =
  /^(?:(\S*?)\/)?(memory\.(?:current|max|peak|swap\.current|usage_in_bytes|limit_in_bytes|max_usage_in_bytes|memsw\.usage_in_bytes))\s*[:=]\s*(\d+|max)$/
const CGROUP_PATH_RE = /^cgroup:\s*(\S.*)$/
const SWAPS_HEADER_RE = /^Filename\s+Type\s+Size\s+Used\s+Priority$/
const SWAPS_ROW_RE = /^(\S+)\s+(partition|file)\s+(\d+)\s+(\d+)\s+(-?\d+)$/

/*
 * Every line of a block is offered to most of these in turn, so each first
 * checks what its pattern cannot do without (its first character, or a word
 * it holds): a line that cannot match is turned away without running it.
 */
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122)

/** The header `cat /proc/swaps` prints, even on a host with no swap. */
export function isSwapsHeader(line: string): boolean {
  return line.charCodeAt(0) === 70 /* F */ && SWAPS_HEADER_RE.test(line)
}

/** A `/proc/swaps` row → size and used, in bytes (the file counts KiB). */
export function swapsRow(line: string): { sizeBytes: number; usedBytes: number } | undefined {
  const m = SWAPS_ROW_RE.exec(line)
  return m ? { sizeBytes: Number(m[3]) * 1024, usedBytes: Number(m[4]) * 1024 } : undefined
}

/** Columns `swapon --show` may print (`--show=…` picks and orders them). */
const SWAPON_COLUMNS = new Set(['NAME', 'TYPE', 'SIZE', 'USED', 'PRIO', 'UUID', 'LABEL'])
/** `8G`, `512.5M`, `0B`, and `7,6G` where the locale's decimal point is a comma. */
const SWAPON_SIZE_RE = /^(\d+(?:[.,]\d+)?)([KMGTPE]?)(?:i?B)?$/
const BINARY: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 }

/** The header of `swapon --show` (its column names, in order), when it names SIZE and USED. */
export function swaponHeader(line: string): string[] | undefined {
  const c = line.charCodeAt(0)
  if (c < 65 || c > 90 || !/^[A-Z]+(?:\s+[A-Z]+)+$/.test(line)) return undefined
  const cols = line.split(/\s+/)
  if (cols.length < 2 || !cols.every(c => SWAPON_COLUMNS.has(c)) || !cols.includes('SIZE') || !cols.includes('USED')) return undefined
  return cols
}

/**
 * A `swapon --show` row: sizes are binary (`8G`, `512.5M`, `0B`) or bytes
 * with `--bytes`. Undefined when the row does not line up with the header.
 */
export function swaponRow(line: string, cols: string[]): { sizeBytes: number; usedBytes: number } | undefined {
  const cells = line.split(/\s+/)
  if (cells.length !== cols.length) return undefined
  const size = (name: string) => {
    const m = SWAPON_SIZE_RE.exec(cells[cols.indexOf(name)] ?? '')
    return m ? Math.round(Number((m[1] as string).replace(',', '.')) * (BINARY[m[2] as string] as number)) : undefined
  }
  const sizeBytes = size('SIZE')
  const usedBytes = size('USED')
  return sizeBytes === undefined || usedBytes === undefined ? undefined : { sizeBytes, usedBytes }
}

/** `MemTotal:  24576000 kB` → [key, bytes]. Keys without a unit are counts. */
export function meminfoLine(line: string): [string, number] | undefined {
  if (!isLetter(line.charCodeAt(0))) return undefined
  const m = MEMINFO_RE.exec(line)
  if (!m || !line.endsWith('kB')) return undefined
  return [m[1] as string, Number(m[2]) * 1024]
}

export function isMeminfoCount(line: string): boolean {
  return line.charCodeAt(0) === 72 /* H */ && /^HugePages_\w+:\s+\d+$/.test(line)
}

/**
 * One PSI line and whose it is: the host's memory (`/proc/pressure/memory`,
 * or no file name), a cgroup's (`…/memory.pressure`), or another resource
 * (`/proc/pressure/cpu`, `io`, `irq`), which is read past.
 */
export function psiLine(
  line: string,
): { of: 'host' | 'cgroup' | 'other'; which: 'some' | 'full'; avg10: number; avg60: number; avg300: number; totalUs: number } | undefined {
  if (!line.includes(' avg10=')) return undefined
  const m = PSI_RE.exec(line)
  if (!m) return undefined
  const file = m[1]
  return {
    of: file === undefined || /(?:^|\/)pressure\/memory$/.test(file) ? 'host' : file.endsWith('memory.pressure') ? 'cgroup' : 'other',
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
  const c = line.charCodeAt(0)
  if (c < 97 || c > 122) return undefined
  const m = VMSTAT_RE.exec(line)
  return m ? [m[1] as string, Number(m[2])] : undefined
}

/** Values above this in a v1 limit file mean "no limit". */
const V1_UNLIMITED = 2 ** 60

/** `…/memory.current:123` (grep -H style) or `memory.max: max`. */
export function cgroupLine(
  line: string,
): { path?: string; key: string; value: number | null } | undefined {
  if (!line.includes('memory.')) return undefined
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
  return line.charCodeAt(0) === 99 /* c */ ? CGROUP_PATH_RE.exec(line)?.[1] : undefined
}
