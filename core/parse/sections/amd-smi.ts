/**
 * `amd-smi` (ROCm 5.7 on): its GPU memory as `amd-smi metric` prints it
 * (text and CSV) and as `amd-smi monitor` tabulates it. Its `MB` is MiB:
 * every version divides the driver's bytes by 1024 * 1024 (whole MiB, the
 * rest dropped) and labels the result `MB`. The default `monitor` view of
 * ROCm 6.4 on prints `used/total GB`: those MiB divided by 1024 again, to
 * one decimal, so GiB as printed. A figure in any other unit is skipped.
 */
import type { AmdFigure } from './amd.js'

const MIB = 2 ** 20
const GIB = 2 ** 30

/** `GPU: 0`: the start of one GPU's part of `amd-smi metric` (and of static, list, process). */
export function amdSmiGpuLine(line: string): number | undefined {
  if (line.charCodeAt(0) !== 71 /* G */) return undefined
  const m = /^GPU: (\d{1,4})$/.exec(line)
  return m ? Number(m[1]) : undefined
}

type Slot = { pool: AmdFigure['pool']; what: AmdFigure['what'] } | 'derived'

/**
 * The keys of `MEM_USAGE:`: ROCm 6.0 on (`TOTAL_VRAM` …) and ROCm 5.7 (`VRAM`,
 * `USED_VRAM` …, no free lines). `FREE_*` is total less used: not read.
 */
const MEM_KEYS: Record<string, Slot> = {
  TOTAL_VRAM: { pool: 'vram', what: 'total' },
  USED_VRAM: { pool: 'vram', what: 'used' },
  FREE_VRAM: 'derived',
  TOTAL_VISIBLE_VRAM: { pool: 'vis_vram', what: 'total' },
  USED_VISIBLE_VRAM: { pool: 'vis_vram', what: 'used' },
  FREE_VISIBLE_VRAM: 'derived',
  TOTAL_GTT: { pool: 'gtt', what: 'total' },
  USED_GTT: { pool: 'gtt', what: 'used' },
  FREE_GTT: 'derived',
  VRAM: { pool: 'vram', what: 'total' },
  VIS_VRAM: { pool: 'vis_vram', what: 'total' },
  USED_VIS_VRAM: { pool: 'vis_vram', what: 'used' },
  GTT: { pool: 'gtt', what: 'total' },
}

export type MemLine =
  | { figure: { pool: AmdFigure['pool']; what: AmdFigure['what']; bytes: number } }
  | { unread: { pool: AmdFigure['pool']; what: AmdFigure['what']; printed: string } }
  | { skipped: string }
  | { derived: true }

/** A line under `MEM_USAGE:` (`USED_VRAM: 283 MB`); undefined when the key is none of its keys. */
export function amdSmiMemLine(line: string): MemLine | undefined {
  const colon = line.indexOf(': ')
  if (colon < 0) return undefined
  const key = line.slice(0, colon)
  const slot = MEM_KEYS[key]
  if (slot === undefined) return undefined
  if (slot === 'derived') return { derived: true }
  const value = line.slice(colon + 2).trim()
  const m = /^(\d{1,12}) MB$/.exec(value)
  if (m) return { figure: { ...slot, bytes: Number(m[1]) * MIB } }
  if (value === 'N/A') return { unread: { ...slot, printed: value } }
  return { skipped: `amd-smi: ${key} printed as '${value.slice(0, 40)}', not in MB; skipped` }
}

/** Any other `KEY:` or `KEY: value` line of `amd-smi metric`'s text (`USAGE:`, `GFX_ACTIVITY: 0 %`). */
export function isAmdSmiKeyLine(line: string): boolean {
  return /^[A-Z][A-Z0-9_]*:(?: .*)?$/.test(line)
}

/** The wrapped rest of a long list (`N/A, N/A, 0 %,` … `N/A]`). */
export function isAmdSmiListRest(line: string): boolean {
  return /^(?:(?:N\/A|\d+(?:\.\d+)? %), )*(?:N\/A|\d+(?:\.\d+)? %)[,\]]$/.test(line)
}

/** Columns of `amd-smi monitor` (its header starts `GPU ` and has a VRAM column). */
export interface MonitorColumns {
  names: string[]
  used?: number
  total?: number
  usage?: number
}

export function amdSmiMonitorHeader(line: string): MonitorColumns | undefined {
  if (!line.startsWith('GPU ') || !line.includes('VRAM_')) return undefined
  const names = line.split(/\s+/)
  const at = (n: string) => {
    const i = names.indexOf(n)
    return i < 0 ? undefined : i
  }
  const cols: MonitorColumns = { names }
  const used = at('VRAM_USED')
  const total = at('VRAM_TOTAL')
  const usage = at('VRAM_USAGE')
  if (used !== undefined && total !== undefined) Object.assign(cols, { used, total })
  else if (usage !== undefined) cols.usage = usage
  else return undefined
  return cols
}

/** One cell: `N/A`, a number with its unit (`283 MB`, `55 °C`, `N/A Mb/s`), `0.3/192.0 GB`, `True`. */
const CELL_RE = /(?:\d+(?:\.\d+)?\/\s*\d+(?:\.\d+)? GB|(?:N\/A|-?\d+(?:\.\d+)?)(?: (?:W|°C|MHz|%|MB|GB|Mb\/s|mV|J))?|True|False)(?=\s|$)/y

/** A row under the monitor header: its GPU's figures, a skip, or undefined when the line is no row. */
export function amdSmiMonitorRow(line: string, cols: MonitorColumns): { gpu: number; figures: AmdFigure[]; unread?: string } | { skipped: string } | undefined {
  const m = /^(\d{1,4})\s/.exec(line)
  if (!m) return undefined
  const cells: string[] = []
  let i = 0
  while (i < line.length) {
    while (line[i] === ' ') i++
    if (i >= line.length) break
    CELL_RE.lastIndex = i
    const c = CELL_RE.exec(line)
    if (!c) return undefined
    cells.push(c[0])
    i = CELL_RE.lastIndex
  }
  if (cells.length !== cols.names.length) return { skipped: `amd-smi monitor: a row of ${cells.length} cells under a header of ${cols.names.length}; skipped` }
  const gpu = Number(m[1])
  const figures: AmdFigure[] = []
  if (cols.usage !== undefined) {
    const cell = cells[cols.usage] as string
    const u = /^(\d+(?:\.\d+)?)\/\s*(\d+(?:\.\d+)?) GB$/.exec(cell)
    if (!u) return cell === 'N/A' ? { gpu, figures, unread: cell } : { skipped: `amd-smi monitor: VRAM_USAGE '${cell}' does not read; skipped` }
    figures.push({ card: gpu, pool: 'vram', what: 'used', bytes: Math.round(Number(u[1]) * GIB) })
    figures.push({ card: gpu, pool: 'vram', what: 'total', bytes: Math.round(Number(u[2]) * GIB) })
    return { gpu, figures }
  }
  for (const [col, what] of [[cols.used, 'used'], [cols.total, 'total']] as const) {
    const cell = cells[col as number] as string
    const v = /^(\d+) MB$/.exec(cell)
    if (v) figures.push({ card: gpu, pool: 'vram', what, bytes: Number(v[1]) * MIB })
    else if (cell === 'N/A') return { gpu, figures: [], unread: cell }
    else return { skipped: `amd-smi monitor: VRAM_${what.toUpperCase()} '${cell}' is not in MB; skipped` }
  }
  return { gpu, figures }
}

/** Columns of `amd-smi metric --csv`: its memory columns by name, figures in MiB without a unit. */
export interface MetricCsvColumns {
  count: number
  figures: { col: number; pool: AmdFigure['pool']; what: AmdFigure['what'] }[]
}

export function amdSmiCsvHeader(line: string): MetricCsvColumns | undefined {
  if (!line.startsWith('gpu,') || !line.includes('_vram')) return undefined
  const cols = line.split(',')
  const figures: MetricCsvColumns['figures'] = []
  cols.forEach((name, col) => {
    const slot = /^(?:total|used)_(?:visible_)?(?:vram|gtt)$/.test(name) ? MEM_KEYS[name.toUpperCase()] : undefined
    if (slot && slot !== 'derived') figures.push({ col, ...slot })
  })
  return figures.some(f => f.pool === 'vram') ? { count: cols.length, figures } : undefined
}

/** A row under the CSV header (`0,16368,174,…`); a skip when its cells do not line up. */
export function amdSmiCsvRow(line: string, cols: MetricCsvColumns): { figures: AmdFigure[]; unread?: number } | { skipped: string } | undefined {
  const m = /^(\d{1,4}),/.exec(line)
  if (!m) return undefined
  const cells = line.split(',')
  if (cells.length !== cols.count) return { skipped: `amd-smi: a CSV row of ${cells.length} cells under a header of ${cols.count}; skipped` }
  const card = Number(m[1])
  const figures: AmdFigure[] = []
  let unread = false
  for (const f of cols.figures) {
    const v = (cells[f.col] as string).trim()
    if (/^\d{1,12}$/.test(v)) figures.push({ card, pool: f.pool, what: f.what, bytes: Number(v) * MIB })
    else if (f.pool === 'vram') unread = true
  }
  return unread ? { figures, unread: card } : { figures }
}

/**
 * `amd-smi` alone (ROCm 7.0 on): a box per GPU. Its second line, under
 * `GPU  HIP-ID  OAM-ID  Partition-Mode | GFX-Uti  Fan  Mem-Usage`, ends
 * `used/total MB`: the same MiB `metric` prints (an MI300X's total is 196592
 * in both, a Strix Halo's 8 GiB carve-out 8192).
 */
const BOX_GPU_RE = /^\|\s+(\d{1,4})\s+\S+\s+\S+\s+\S+\s+\|.*\s(?:(\d{1,9})\/(\d{1,9}) MB|N\/A)\s*\|$/

/** The box's border (`+---…---+`), when the banner (`| AMD-SMI 26.0.0 …`) follows it. */
export function isAmdSmiBoxStart(line: string, next: string | undefined): boolean {
  if (line.startsWith('| AMD-SMI ')) return true
  return /^\+-+\+$/.test(line) && next !== undefined && next.trim().startsWith('| AMD-SMI ')
}

/** A line of the box: a GPU's memory, a process row (not read: one decimal), or its frame and headers. */
export function amdSmiBoxLine(line: string): { gpu: number; figures: AmdFigure[]; unread?: string } | { process: true } | { frame: true } | undefined {
  const c0 = line.charCodeAt(0)
  if (c0 === 43 /* + */) return /^\+[-+=]+\+$/.test(line) ? { frame: true } : undefined
  if (c0 !== 124 /* | */ || !line.endsWith('|')) return undefined
  const m = BOX_GPU_RE.exec(line)
  if (m) {
    const gpu = Number(m[1])
    if (m[2] === undefined) return { gpu, figures: [], unread: 'N/A' }
    return { gpu, figures: [{ card: gpu, pool: 'vram', what: 'used', bytes: Number(m[2]) * MIB }, { card: gpu, pool: 'vram', what: 'total', bytes: Number(m[3]) * MIB }] }
  }
  if (/^\|\s+\d+\s+\d+\s+.*\d [KMGTPE]?B\s/.test(line)) return { process: true }
  return { frame: true }
}

/** What an `amd-smi … --json` body says of GPU memory. */
export interface AmdSmiJson {
  figures: AmdFigure[]
  unread: number[]
  skipped: string[]
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * An `amd-smi metric --json` or `amd-smi monitor --json` body: a list of one
 * object per GPU (`{"gpu": 0, "mem_usage": {"used_vram": {"value": 283,
 * "unit": "MB"}, …}}`; newer ones wrap the list as `{"gpu_data": […]}`).
 * Undefined when the body is not of that shape. `MB` is MiB as in the text; a
 * bare number under `mem_usage` (ROCm 6.0 and before print no unit) is the
 * same MiB; monitor's `GB` is GiB to one decimal.
 */
export function amdSmiJson(body: unknown): AmdSmiJson | undefined {
  const list = isObj(body) && Array.isArray(body.gpu_data) ? body.gpu_data : body
  if (!Array.isArray(list) || list.length === 0 || !list.every(g => isObj(g) && Number.isInteger(g.gpu))) return undefined
  const out: AmdSmiJson = { figures: [], unread: [], skipped: [] }
  for (const g of list as Record<string, unknown>[]) {
    const card = g.gpu as number
    const read = (key: string, v: unknown, slot: { pool: AmdFigure['pool']; what: AmdFigure['what'] }, bare: boolean) => {
      const unit = isObj(v) ? v.unit : undefined
      const n = isObj(v) ? v.value : bare ? v : undefined
      const mib = unit === 'MB' || (unit === undefined && bare)
      if (typeof n === 'number' && n >= 0 && (mib ? Number.isInteger(n) : unit === 'GB' && !bare)) {
        out.figures.push({ card, ...slot, bytes: unit === 'GB' ? Math.round(n * GIB) : n * MIB })
      } else if (v === 'N/A' || (isObj(v) && v.value === 'N/A')) {
        if (slot.pool === 'vram' && !out.unread.includes(card)) out.unread.push(card)
      } else out.skipped.push(`amd-smi: GPU ${card} ${key} printed as ${JSON.stringify(v).slice(0, 60)}, not in MB; skipped`)
    }
    if (isObj(g.mem_usage)) {
      for (const [key, v] of Object.entries(g.mem_usage)) {
        const slot = MEM_KEYS[key.toUpperCase()]
        if (slot !== undefined && slot !== 'derived') read(key, v, slot, true)
      }
    }
    if ('vram_used' in g && 'vram_total' in g) {
      read('vram_used', g.vram_used, { pool: 'vram', what: 'used' }, false)
      read('vram_total', g.vram_total, { pool: 'vram', what: 'total' }, false)
    }
  }
  return out
}
