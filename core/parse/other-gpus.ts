import type { SectionName, SystemSample } from '../../schemas/index.js'
import type { GpuBlock } from './gpu-block.js'
import { PerBlock } from './per-block.js'
import type { ProblemLog } from './problems.js'
import { AmdSmiLines } from './amd-smi-lines.js'
import type { AmdSmiJson } from './sections/amd-smi.js'
import { amdgpuCatLines, amdgpuSysfsLine, intelVendorLine, rocmCsvHeader, rocmCsvRow, rocmSmiLine, type RocmCsvColumns, tegrastatsLine } from './sections/amd.js'

type Tegra = NonNullable<SystemSample['tegrastats']>

/**
 * The GPU sources of a block other than nvidia-smi: amdgpu's sysfs files,
 * `rocm-smi --showmeminfo` (text and CSV), `amd-smi` and `tegrastats`. AMD
 * figures go to the block's GPUs; tegrastats marks the host unified.
 */
export class OtherGpuLines {
  readonly #problems: ProblemLog
  readonly #file: string
  readonly #gpu: GpuBlock
  readonly #seen: (name: SectionName) => void
  #csv: RocmCsvColumns | undefined
  readonly #amdSmi: AmdSmiLines
  readonly #tegra: PerBlock<Tegra>
  #last: Tegra | undefined

  constructor(problems: ProblemLog, file: string, gpu: GpuBlock, seen: (name: SectionName) => void) {
    this.#problems = problems
    this.#file = file
    this.#gpu = gpu
    this.#seen = seen
    this.#amdSmi = new AmdSmiLines(problems, file, gpu)
    this.#tegra = new PerBlock(problems, file, () => 'tegrastats: two lines in one block (tegrastats prints one per interval); the last is kept')
  }

  /** A blank line ends a CSV table, and amd-smi's parts. */
  blank(): void {
    this.#csv = undefined
    this.#amdSmi.blank()
  }

  /** Undefined when the line is none of these; `and-next` when the next line was its figure too. */
  line(t: string, next: string | undefined, no: number): 'one' | 'and-next' | undefined {
    const c0 = t.charCodeAt(0)
    if (c0 === 47 /* / */ || c0 === 99 /* c */) {
      const amd = amdgpuSysfsLine(t)
      if (amd) {
        this.#gpu.amd(amd, 'amdgpu', no)
        this.#seen('amdgpu')
        return 'one'
      }
      const intel = intelVendorLine(t)
      if (intel) {
        this.#gpu.intelUnread(intel.card, intel.printed)
        return 'one'
      }
    }
    const cat = amdgpuCatLines(t, next)
    if (cat) {
      this.#gpu.amd(cat, 'amdgpu', no)
      this.#seen('amdgpu')
      return 'and-next'
    }
    const rocm = rocmSmiLine(t)
    if (rocm) {
      if (rocm.figure) this.#gpu.amd(rocm.figure, 'rocm-smi', no)
      if (rocm.unread) this.#gpu.amdUnread(rocm.unread.card, rocm.unread.printed)
      this.#seen('rocm-smi')
      return 'one'
    }
    const header = c0 === 100 /* d */ ? rocmCsvHeader(t) : undefined
    if (header) {
      this.#csv = header
      this.#seen('rocm-smi')
      return 'one'
    }
    if (this.#csv) {
      const row = rocmCsvRow(t, this.#csv)
      if (row && 'skipped' in row) this.#problems.add(this.#file, no, 'bad-value', row.skipped)
      else if (row) for (const f of row.figures) this.#gpu.amd(f, 'rocm-smi', no)
      if (row) return 'one'
      this.#csv = undefined
    }
    if (this.#amdSmi.line(t, next, no)) {
      this.#seen('amd-smi')
      return 'one'
    }
    const tegra = tegrastatsLine(t)
    if (tegra) {
      this.#last = this.#tegra.put(no, tegra)
      this.#seen('tegrastats')
      return 'one'
    }
    return undefined
  }

  /** An `amd-smi … --json` body that opened at line `no`. */
  amdSmiJson(body: AmdSmiJson, no: number): void {
    this.#amdSmi.json(body, no)
    this.#seen('amd-smi')
  }

  end(s: SystemSample): void {
    if (!this.#last) return
    s.tegrastats = this.#last
    s.unifiedMemory = true
  }
}
