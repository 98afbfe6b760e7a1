/**
 * AMD GPU memory: the amdgpu driver's sysfs files as `grep . …` prints them
 * (and as the daemon writes them), and `rocm-smi --showmeminfo` in its text
 * and CSV layouts. All figures are in bytes there.
 */

/** `/sys/class/drm/card0/device/mem_info_vram_used:6812925952`. */
const SYSFS_RE = /^(?:\/\S*\/)?card(\d+)\/device\/mem_info_(vram|vis_vram|gtt)_(used|total):\s*(\d+)$/

export interface AmdFigure {
  card: number
  /** `vram`, `vis_vram` (the CPU-visible part of VRAM) or `gtt` (system RAM mapped for the GPU). */
  pool: 'vram' | 'vis_vram' | 'gtt'
  what: 'used' | 'total'
  bytes: number
}

export function amdgpuSysfsLine(line: string): AmdFigure | undefined {
  if (!line.includes('mem_info_')) return undefined
  const m = SYSFS_RE.exec(line)
  if (!m) return undefined
  return { card: Number(m[1]), pool: m[2] as AmdFigure['pool'], what: m[3] as AmdFigure['what'], bytes: Number(m[4]) }
}

const INTEL_RE = /\/card(\d+)\/device\/vendor:(0x8086)$/

/**
 * `/sys/class/drm/card1/device/vendor:0x8086`: an Intel GPU, as the daemon
 * writes it (or `grep . …/vendor` prints it). Its memory in use is not
 * published outside root-only debugfs, so it is named, never counted.
 */
export function intelVendorLine(line: string): { card: number; printed: string } | undefined {
  if (!line.includes('/vendor:')) return undefined
  const m = INTEL_RE.exec(line)
  return m ? { card: Number(m[1]), printed: m[2] as string } : undefined
}

/** `$ cat /sys/class/drm/card0/device/mem_info_vram_used` pasted with its prompt: the figure is the next line. */
const CAT_RE = /(?:^|\s)cat\s+(\/\S*card\d+\/device\/mem_info_(?:vram|vis_vram|gtt)_(?:used|total))$/

export function amdgpuCatLines(line: string, next: string | undefined): AmdFigure | undefined {
  if (next === undefined || !line.includes('mem_info_')) return undefined
  const m = CAT_RE.exec(line)
  const n = next.trim()
  return m && /^\d+$/.test(n) ? amdgpuSysfsLine(`${m[1]}:${n}`) : undefined
}

/** `GPU[0]          : VRAM Total Used Memory (B): 108814336` (rocm-smi 5.x and 6.x). */
const ROCM_LINE_RE = /^GPU\[(\d+)\]\s*:\s*(VRAM|VIS_VRAM|GTT) Total (Used )?Memory \(B\):\s*(\S+)$/
/** rocm-smi's banners: `=== ROCm System Management Interface ===`, `=== Memory Usage (Bytes) ===`, a bare rule, `=== End of ROCm SMI Log ===`. */
const ROCM_BANNER_RE = /^=+(?:\s*(?:ROCm System Management Interface|Memory Usage \(Bytes\)|End of ROCm SMI Log)\s*=+)?$/

/** A line of `rocm-smi --showmeminfo`: a figure, a figure it could not read (`N/A`), or a banner. */
export function rocmSmiLine(line: string): { figure?: AmdFigure; unread?: { card: number; printed: string } } | undefined {
  const c0 = line.charCodeAt(0)
  if (c0 === 61 /* = */) return ROCM_BANNER_RE.test(line) ? {} : undefined
  if (c0 !== 71 /* G */) return undefined
  const m = ROCM_LINE_RE.exec(line)
  if (!m) return undefined
  const card = Number(m[1])
  const raw = m[4] as string
  if (!/^\d+$/.test(raw)) return { unread: { card, printed: raw } }
  return { figure: { card, pool: (m[2] as string).toLowerCase() as AmdFigure['pool'], what: m[3] ? 'used' : 'total', bytes: Number(raw) } }
}

/** Columns of `rocm-smi --showmeminfo vram --csv` (other --show options may add columns). */
export interface RocmCsvColumns {
  count: number
  device: number
  figures: { col: number; pool: AmdFigure['pool']; what: AmdFigure['what'] }[]
}

export function rocmCsvHeader(line: string): RocmCsvColumns | undefined {
  if (!line.startsWith('device,') || !line.includes('Memory (B)')) return undefined
  const cols = line.split(',')
  const figures: RocmCsvColumns['figures'] = []
  cols.forEach((c, col) => {
    const m = /^(VRAM|VIS_VRAM|GTT) Total (Used )?Memory \(B\)$/.exec(c.trim())
    if (m) figures.push({ col, pool: (m[1] as string).toLowerCase() as AmdFigure['pool'], what: m[2] ? 'used' : 'total' })
  })
  return figures.length > 0 ? { count: cols.length, device: 0, figures } : undefined
}

/** A row under the CSV header: `card0,…`; a skip when its cells do not line up with the header. */
export function rocmCsvRow(line: string, cols: RocmCsvColumns): { figures: AmdFigure[] } | { skipped: string } | undefined {
  const m = /^card(\d+),/.exec(line)
  if (!m) return undefined
  const cells = line.split(',')
  // A value with a comma in it (a vendor name) would shift every column after it.
  if (cells.length !== cols.count) return { skipped: `rocm-smi: a CSV row of ${cells.length} cells under a header of ${cols.count}; skipped` }
  const card = Number(m[1])
  const figures: AmdFigure[] = []
  for (const f of cols.figures) {
    const v = (cells[f.col] as string).trim()
    if (/^\d+$/.test(v)) figures.push({ card, pool: f.pool, what: f.what, bytes: Number(v) })
  }
  return { figures }
}

/**
 * `tegrastats`: one line per interval, `RAM 2020/7852MB (lfb 1164x4MB) SWAP 0/3926MB (cached 0MB) CPU […] …`,
 * sometimes after a date and time. Its MB are MiB (it divides /proc/meminfo's kB by 1024).
 */
const TEGRA_RE = /^(?:\d\d-\d\d-\d{4} \d\d:\d\d:\d\d )?RAM (\d+)\/(\d+)MB \(lfb [^)]*\)(?: SWAP (\d+)\/(\d+)MB(?: \(cached \d+MB\))?)?(?: |$)/

export function tegrastatsLine(line: string): { ramUsedBytes: number; ramTotalBytes: number; swapUsedBytes?: number; swapTotalBytes?: number } | undefined {
  if (!line.includes('RAM ')) return undefined
  const m = TEGRA_RE.exec(line)
  if (!m) return undefined
  const mib = (s: string) => Number(s) * 1024 * 1024
  return {
    ramUsedBytes: mib(m[1] as string),
    ramTotalBytes: mib(m[2] as string),
    ...(m[3] !== undefined ? { swapUsedBytes: mib(m[3]), swapTotalBytes: mib(m[4] as string) } : {}),
  }
}

/** NVIDIA GPUs that share system RAM: DGX Spark's GB10, Jetson's Thor, Orin, Xavier and older Tegra. */
export const UNIFIED_GPU_RE = /\b(?:GB10|Thor|Orin|Xavier|Tegra|nvgpu)\b/
