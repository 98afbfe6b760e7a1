/**
 * `free` of procps (3.2 to 4.x) and BusyBox, in every unit it prints: plain
 * KiB (`free`), `-b`, `-m`, `-g`, and `-h` (`1.9G`, `31Gi`, `0B`), with
 * `-w`, `-l`, `-t`, and in the translations procps ships. Rows are told by
 * their place and count, not by their (translated) label, except Swap among
 * the three-figure rows, which is told by the labels procps prints.
 */

/** A row: a label ending in a colon (ASCII or full-width), then figures. */
const ROW_RE = /^(\S[^\d:：]*[:：])\s*((?:\d+(?:[.,]\d+)?[BKMGTPE]?i?(?:\s+|$))+)$/
/** free's rows are short: longer lines are not tried (and no pattern runs long on them). */
const MAX_ROW = 200
const CELL_RE = /^(\d+(?:[.,]\d+)?)([BKMGTPE]?)(i?)$/
/** The row of procps before 3.3.10 and of BusyBox on kernels without MemAvailable (`-/+ buffers/cache:`, `-/+ Puffer/Cache:`). */
const OLD_ROW_RE = /^-\/\+ \S[^\d]{0,40}\s\d/
/** How procps labels the swap row, in each language it ships. */
const SWAP_LABELS = new Set(['Swap:', 'Échange:', 'Inter:', 'Wymiana:', '交换：', 'Своп.:'])
/** The other three-figure rows (`-l`, `-t`, `-v`), in the same languages. */
const OTHER_LABELS = new Set([
  'Low:', 'High:', 'Total:', 'Comm:', 'Niedrig:', 'Hoch:', 'Gesamt:', 'Basse:', 'Haute:', 'Dédié:', 'Baja:', 'Alta:', 'Conf:',
  'Niska:', 'Wysoka:', 'Razem:', 'Zajęta:', 'Baixa:', '低：', '高：', '总计：', '分配：', 'Нижня:', 'Верхня:', 'Загалом:',
])
const POW: Record<string, number> = { '': 0, B: 0, K: 1, M: 2, G: 3, T: 4, P: 5, E: 6 }

interface Row {
  label: string
  cells: string[]
}

function row(line: string): Row | undefined {
  if (line.length > MAX_ROW) return undefined
  const m = ROW_RE.exec(line)
  return m ? { label: m[1] as string, cells: (m[2] as string).trim().split(/\s+/) } : undefined
}

/** Whether `line` is free's header: words only, with the Mem row right under it. */
export function isFreeHeader(line: string, next: string | undefined): boolean {
  if (next === undefined || line.length > MAX_ROW || /\d/.test(line)) return false
  const words = line.trim().split(/\s+/)
  if (words.length < 3) return false
  const r = row(next.trim())
  return r !== undefined && r.cells.length >= 5 && r.cells.length <= 7
}

/** What one `free` table said, in bytes. */
export interface FreeFigures {
  totalBytes: number
  freeBytes: number
  availableBytes?: number
  swapTotalBytes?: number
  swapUsedBytes?: number
  swapFreeBytes?: number
}

/** The host sizes a bare figure is taken to mean: 512 MiB to 2 TiB. */
const HOST_MIN = 2 ** 29
const HOST_MAX = 2 ** 41

/**
 * The unit of figures printed bare (`free`, `-b`, `-m`, `-g`), told by the
 * host's size: the one unit that makes the total a host of 512 MiB to 2 TiB.
 * Where two do (980 is 980 MiB or 980 GiB), the unit cannot be told.
 */
function bareUnit(total: number): number | undefined {
  const fits = [2 ** 30, 2 ** 20, 2 ** 10, 1].filter(u => total * u >= HOST_MIN && total * u <= HOST_MAX)
  return fits.length === 1 ? fits[0] : undefined
}

/** Reads a table's rows as they come; `end()` gives the figures or why not. */
export class FreeTable {
  readonly #header: string
  #mem: Row | undefined
  #oldLayout = false
  readonly #three: Row[] = []

  constructor(header: string) {
    this.#header = header.trim()
  }

  /** True when the line is a row of this table. */
  feed(line: string): boolean {
    if (OLD_ROW_RE.test(line)) {
      this.#oldLayout = true
      return true
    }
    const r = row(line)
    if (!r) return false
    if (!this.#mem) {
      this.#mem = r
      return true
    }
    if (r.cells.length !== 3) return false
    this.#three.push(r)
    return true
  }

  end(): { figures: FreeFigures; skipped?: string } | { skipped: string } {
    const mem = this.#mem as Row
    const human = mem.cells.some(c => /[A-Za-z]$/.test(c))
    const total0 = Number((mem.cells[0] as string).replace(',', '.'))
    const unit = human ? 0 : bareUnit(total0)
    if (unit === undefined) return { skipped: `free: figures without a unit whose total (${mem.cells[0]}) fits more than one host size, or none; skipped (free -h, or /proc/meminfo, says)` }
    const bytes = (cell: string | undefined): number | undefined => {
      const m = CELL_RE.exec(cell ?? '')
      if (!m) return undefined
      const v = Number((m[1] as string).replace(',', '.'))
      if (!human) return /[.,]/.test(m[1] as string) || m[2] ? undefined : v * unit
      // procps -h and BusyBox -h are binary; `--si` prints the same letters in 1000s and cannot be told apart.
      return Math.round(v * 1024 ** (POW[m[2] as string] as number))
    }
    const total = bytes(mem.cells[0])
    const free = bytes(mem.cells[2])
    if (total === undefined || free === undefined) return { skipped: 'free: a Mem row whose figures do not read; skipped' }
    const figures: FreeFigures = { totalBytes: total, freeBytes: free }
    // The last column is `available` from procps 3.3.10 on; before, it was `cached`.
    const oldLayout = this.#oldLayout || mem.cells.length === 5 || /\bcached$/.test(this.#header)
    if (!oldLayout) {
      const avail = bytes(mem.cells[mem.cells.length - 1])
      if (avail !== undefined) figures.availableBytes = avail
    }
    const swaps = this.#three.filter(r => SWAP_LABELS.has(r.label))
    const unknown = this.#three.filter(r => !SWAP_LABELS.has(r.label) && !OTHER_LABELS.has(r.label))
    const swap = swaps.length === 1 ? swaps[0] : swaps.length === 0 && unknown.length === 1 ? unknown[0] : undefined
    let skipped: string | undefined
    if (swap) {
      const [st, su, sf] = swap.cells.map(bytes)
      if (st !== undefined && su !== undefined && sf !== undefined) {
        figures.swapTotalBytes = st
        figures.swapUsedBytes = su
        figures.swapFreeBytes = sf
      } else skipped = 'free: a Swap row whose figures do not read; skipped'
    } else if (this.#three.length > 0 && unknown.length > 0) skipped = `free: no row is surely Swap (${unknown.map(r => r.label).join(', ')}); swap skipped`
    return skipped ? { figures, skipped } : { figures }
  }
}
