import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCommand } from './run-command.js'

const FILES = ['mem_info_vram_total', 'mem_info_vram_used', 'mem_info_gtt_total', 'mem_info_gtt_used']
const AMD_VENDOR = '0x1002'
const INTEL_VENDOR = '0x8086'
type Tool = 'rocm-smi' | 'amd-smi'
/** What each tool is run with: its VRAM (amd-smi adds GTT), in the layouts core/parse reads. */
const TOOLS: Record<Tool, string[]> = { 'rocm-smi': ['--showmeminfo', 'vram'], 'amd-smi': ['metric', '--mem-usage'] }

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1').trim()
  } catch {
    return undefined
  }
}

/**
 * AMD GPU memory from the amdgpu driver's sysfs files, no tool needed: each
 * card's VRAM and GTT (system RAM mapped for the GPU, where an APU's
 * allocations go), written `path:bytes` as `grep . …/mem_info_*` prints them.
 * An AMD card without the files (kernels before 5.4.87 and 5.10.5) is asked
 * of `rocm-smi --showmeminfo vram`, where rocm-smi is installed, or else of
 * `amd-smi metric --mem-usage`, where amd-smi is.
 */
export class AmdgpuSource {
  /** The tool that reads a card without the files: not yet tried, found, or none that works. */
  #tool: 'unknown' | Tool | 'none' = 'unknown'

  constructor(
    private readonly sysRoot: string,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal,
  ) {}

  async sample(): Promise<{ text: string; error?: string }> {
    const drm = join(this.sysRoot, 'class', 'drm')
    let cards: string[]
    try {
      cards = readdirSync(drm).filter(n => /^card\d+$/.test(n))
    } catch {
      return { text: '' }
    }
    let text = ''
    let unread = false
    for (const card of cards.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))) {
      const dev = join(drm, card, 'device')
      const vendor = read(join(dev, 'vendor'))
      // An Intel GPU publishes no memory in use outside root-only debugfs: its vendor line lets the chart say it is not read.
      if (vendor === INTEL_VENDOR) text += `${join(dev, 'vendor')}:${vendor}\n`
      if (vendor !== AMD_VENDOR) continue
      let found = 0
      for (const f of FILES) {
        const v = read(join(dev, f))
        if (v === undefined || !/^\d+$/.test(v)) continue
        text += `${join(dev, f)}:${v}\n`
        found++
      }
      if (found === 0) unread = true
    }
    if (!unread || this.#tool === 'none') return { text }
    let tool: Tool = this.#tool === 'unknown' ? 'rocm-smi' : this.#tool
    let r = await runCommand(tool, TOOLS[tool], this.timeoutMs, undefined, this.signal)
    // amd-smi only where rocm-smi is not installed: rocm-smi that fails says why, and is not passed over.
    if (!r.ok && r.missing && this.#tool === 'unknown') {
      tool = 'amd-smi'
      r = await runCommand(tool, TOOLS[tool], this.timeoutMs, undefined, this.signal)
    }
    if (r.ok) {
      this.#tool = tool
      return { text: text + (r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`) }
    }
    if (r.missing || this.#tool === 'unknown') {
      this.#tool = 'none'
      return { text, error: r.missing ? 'an AMD GPU without amdgpu memory files, and neither rocm-smi nor amd-smi: its memory is not read' : r.error }
    }
    return { text, error: r.error }
  }
}
