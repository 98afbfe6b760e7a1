/**
 * Parsers for `nvidia-smi`: the CSV of `--query-gpu=… --format=csv` and the
 * default table (GPUs, and the processes holding GPU memory).
 */

/** Columns of `nvidia-smi --query-gpu=… --format=csv` found in its header. */
export interface NvidiaColumns {
  index: number
  name: number
  used: number
  total: number
  /** `uuid` or `pci.bus_id`: which GPU a row is when there is no index. */
  id: number
}

export function nvidiaHeader(line: string): NvidiaColumns | undefined {
  if (!line.includes('memory.used') || !line.includes(',')) return undefined
  const cols = line.split(',').map(c => c.trim())
  const find = (name: string) => cols.findIndex(c => c === name || c.startsWith(`${name} `))
  const uuid = find('uuid')
  const found: NvidiaColumns = {
    index: find('index'),
    name: find('name'),
    used: find('memory.used'),
    total: find('memory.total'),
    id: uuid >= 0 ? uuid : find('pci.bus_id'),
  }
  return found.used < 0 ? undefined : found
}

const MIB = 1024 * 1024

export interface GpuMemory {
  index: number
  name?: string
  usedBytes: number
  totalBytes: number
  source?: 'nvidia-smi' | 'amdgpu' | 'rocm-smi' | 'amd-smi'
  gttUsedBytes?: number
  gttTotalBytes?: number
}

/**
 * One CSV row; values may carry ` MiB` or be bare numbers (nounits). `key`
 * says which GPU it is (index, else uuid or bus id, else its place since the
 * header), so a GPU printed twice in one block is seen as the same GPU.
 */
/** A GPU listed without its memory (`[N/A]`: DGX Spark, Jetson, old GeForce): named, never read as zero. */
export interface UnreadGpu {
  index: number
  name?: string
  printed: string
}

export function nvidiaRow(line: string, cols: NvidiaColumns, ordinal: number): { key: string; id?: string; gpu: GpuMemory } | { key: string; id?: string; unread: UnreadGpu } | undefined {
  const cells = line.split(',').map(c => c.trim())
  const na = (i: number) => i >= 0 && /^\[(?:N\/A|Not Supported|Unknown Error)\]$/.test(cells[i] ?? '')
  // A row whose memory the driver does not give (`[N/A]`): kept as unread, and the rows after it still read.
  if (cells.length > cols.used && (na(cols.used) || na(cols.total))) {
    const idx = cols.index >= 0 ? Number(cells[cols.index]) : NaN
    const index = Number.isInteger(idx) && idx >= 0 ? idx : ordinal
    const name = cols.name >= 0 ? cells[cols.name] : undefined
    const id = cols.id >= 0 ? cells[cols.id] : undefined
    const printed = `${cells[cols.used]} / ${cols.total >= 0 ? cells[cols.total] : '?'}`
    return { key: Number.isInteger(idx) && idx >= 0 ? `index ${idx}` : id ? id : `row ${ordinal}`, ...(id ? { id } : {}), unread: { index, ...(name ? { name } : {}), printed } }
  }
  const num = (i: number) => {
    const m = /^(\d+(?:\.\d+)?)\s*(MiB|GiB)?$/.exec(cells[i] ?? '')
    if (!m) return NaN
    return Number(m[1]) * (m[2] === 'GiB' ? 1024 * MIB : MIB)
  }
  const used = num(cols.used)
  const total = cols.total >= 0 ? num(cols.total) : NaN
  if (Number.isNaN(used) || Number.isNaN(total)) return undefined
  const idx = cols.index >= 0 ? Number(cells[cols.index]) : NaN
  const index = Number.isInteger(idx) && idx >= 0 ? idx : ordinal
  const name = cols.name >= 0 ? cells[cols.name] : undefined
  const id = cols.id >= 0 ? cells[cols.id] : undefined
  return {
    key: Number.isInteger(idx) && idx >= 0 ? `index ${idx}` : id ? id : `row ${ordinal}`,
    ...(id ? { id } : {}),
    gpu: { index, ...(name ? { name } : {}), usedBytes: used, totalBytes: total },
  }
}

/** Columns of `nvidia-smi --query-compute-apps=gpu_uuid,pid,used_memory --format=csv`. */
export interface AppsColumns {
  gpu: number
  pid: number
  used: number
}

export function appsHeader(line: string): AppsColumns | undefined {
  if (!line.includes('used_gpu_memory') || !line.includes(',')) return undefined
  const cols = line.split(',').map(c => c.trim())
  const find = (name: string) => cols.findIndex(c => c === name || c.startsWith(`${name} `))
  const uuid = find('gpu_uuid')
  const found = { gpu: uuid >= 0 ? uuid : find('gpu_bus_id'), pid: find('pid'), used: find('used_gpu_memory') }
  return found.pid < 0 ? undefined : found
}

/** A compute process: its GPU (uuid or bus id, when asked), PID and memory; undefined memory when printed `[N/A]`. */
export function appsRow(line: string, cols: AppsColumns): { gpu?: string; pid: number; usedBytes: number | undefined } | undefined {
  const cells = line.split(',').map(c => c.trim())
  const pid = cells[cols.pid] ?? ''
  if (!/^\d+$/.test(pid) || cells.length < Math.max(cols.gpu, cols.pid, cols.used) + 1) return undefined
  const m = /^(\d+)(?: MiB)?$/.exec(cells[cols.used] ?? '')
  const gpu = cols.gpu >= 0 ? cells[cols.gpu] : undefined
  return { ...(gpu ? { gpu } : {}), pid: Number(pid), usedBytes: m ? Number(m[1]) * MIB : undefined }
}


/** A process holding GPU memory, as the default table lists it. */
export interface GpuProcess {
  gpu: number
  pid: number
  type: string
  usedBytes: number
}

const BORDER_RE = /^[+|][-=+| ]*[+|]$/
const SMI_BANNER_RE = /^\|\s*NVIDIA-SMI \S+\s+(?:Driver Version|KMD Version)/
const SMI_TIME_RE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}$/
/** `|   0  NVIDIA GeForce RTX 4090        Off |   00000000:01:00.0  On |`: index, name, persistence or driver model, bus id. */
const GPU_RE = /^\|\s+(\d+)\s+(\S.*?)\s+(?:On|Off|WDDM|TCC|MCDM|N\/A)\s*\|\s*(?:[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]|N\/A)\s/
/** `|   1234MiB / 24564MiB |`, the second cell of a GPU's second line (either side may be N/A). */
const MEM_RE = /^\|[^|]*\|\s*(\d+MiB|N\/A|Not Supported)\s*\/\s*(\d+MiB|N\/A|Not Supported)\s*\|/
/** `| Not Supported          |`: the memory cell of a GPU sharing system RAM (DGX Spark, Jetson), one word for both figures. */
const MEM_ONE_RE = /^\|[^|]*\|\s*(Not Supported|N\/A)\s*\|/
/**
 * A process row: GPU, then GI and CI (since driver 450) or not, PID, type,
 * the process name, and its memory (`N/A` under WDDM and in WSL).
 */
const PROC_RE = /^\|\s+(\d+)\s+(?:(?:N\/A|\d+)\s+(?:N\/A|\d+)\s+)?(\d+)\s+(C\+G|M\+C|C|G|M)\s+\S.*?\s(\d+MiB|N\/A)\s*\|$/
const TEXT_RE = /^\|\s*(?:Processes:|GPU\s+(?:Name|GI|PID)|Fan\s+Temp|ID\s+ID|No running processes found|GPU Memory|Usage\b)/
const MIG_RE = /^\|\s*MIG devices:/
/** A line whose first cell is empty: the third line of a GPU, continuation lines. */
const EMPTY_FIRST_CELL_RE = /^\|\s+\|/

const MAX_LINE = 200

const mib = (cell: string) => (cell.endsWith('MiB') ? Number(cell.slice(0, -3)) * MIB : undefined)

/**
 * Reads `nvidia-smi`'s default table, line by line: each GPU's memory used
 * and total, and the memory of each process it lists. MIG slices are read past
 * (the GPU's own line already counts them).
 */
export class SmiTable {
  readonly gpus: { key: string; gpu: GpuMemory }[] = []
  readonly unread: { key: string; gpu: UnreadGpu }[] = []
  #section: 'gpus' | 'mig' | 'processes' = 'gpus'
  #pending: { index: number; name: string } | undefined
  #active = false

  /**
   * Undefined when the line is not the table's; else what was skipped, a
   * process it lists, and whether a new table starts (its banner).
   */
  feed(line: string): { skipped?: string; process?: GpuProcess; started?: boolean } | undefined {
    // The widest table is 91 columns, and a process name is cut to fit: a longer line is not the table's.
    if (line.length > MAX_LINE) return undefined
    const c = line[0]
    if (c !== '|' && c !== '+') {
      // The time starts with a day's name.
      if ((c !== 'M' && c !== 'T' && c !== 'W' && c !== 'F' && c !== 'S') || !SMI_TIME_RE.test(line)) return undefined
      this.#active = true
      return {}
    }
    if (SMI_BANNER_RE.test(line)) {
      this.#active = true
      this.#section = 'gpus'
      return { started: true }
    }
    // Before nvidia-smi's banner or time, only its top border (which carries nothing) is taken.
    if (!this.#active) return /^\+-[-+]*\+$/.test(line) ? {} : undefined
    if (MIG_RE.test(line)) {
      this.#section = 'mig'
      return {}
    }
    if (/^\|\s*Processes:/.test(line)) {
      this.#section = 'processes'
      return {}
    }
    const p = this.#section === 'processes' ? PROC_RE.exec(line) : null
    if (p) {
      const used = mib(p[4] as string)
      if (used === undefined) return { skipped: `nvidia-smi: the memory of process ${p[2]} on GPU ${p[1]} is N/A (Windows and WSL do not report it); skipped` }
      return { process: { gpu: Number(p[1]), pid: Number(p[2]), type: p[3] as string, usedBytes: used } }
    }
    if (this.#section === 'gpus') {
      const g = GPU_RE.exec(line)
      if (g) {
        const skipped = this.#unfinished()
        this.#pending = { index: Number(g[1]), name: (g[2] as string).trim() }
        return skipped ? { skipped } : {}
      }
      const m = this.#pending ? MEM_RE.exec(line) ?? MEM_ONE_RE.exec(line) : null
      if (m && this.#pending) {
        const { index, name } = this.#pending
        this.#pending = undefined
        const used = mib(m[1] as string)
        const total = m[2] === undefined ? undefined : mib(m[2])
        if (used === undefined || total === undefined) {
          this.unread.push({ key: `index ${index}`, gpu: { index, name, printed: m[2] === undefined ? (m[1] as string) : `${m[1]} / ${m[2]}` } })
          return {}
        }
        this.gpus.push({ key: `index ${index}`, gpu: { index, name, usedBytes: used, totalBytes: total } })
        return {}
      }
    }
    if (BORDER_RE.test(line) || TEXT_RE.test(line) || EMPTY_FIRST_CELL_RE.test(line) || this.#section === 'mig') return {}
    return { skipped: 'nvidia-smi: a table line in no known layout; skipped' }
  }

  /** A GPU whose memory line never came. */
  #unfinished(): string | undefined {
    const p = this.#pending
    return p ? `nvidia-smi: GPU ${p.index} has no memory line; skipped` : undefined
  }

  /** Call at the block's end: what was left unread. */
  end(): string | undefined {
    const r = this.#unfinished()
    this.#pending = undefined
    return r
  }
}
