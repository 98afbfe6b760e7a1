import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCommand } from './run-command.js'

const FILES = ['mem_info_vram_total', 'mem_info_vram_used', 'mem_info_gtt_total', 'mem_info_gtt_used']
const AMD_VENDOR = '0x1002'

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
 * of `rocm-smi --showmeminfo vram`, where rocm-smi is installed.
 */
export class AmdgpuSource {
  #rocm: 'unknown' | 'yes' | 'no' = 'unknown'

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
      if (read(join(dev, 'vendor')) !== AMD_VENDOR) continue
      let found = 0
      for (const f of FILES) {
        const v = read(join(dev, f))
        if (v === undefined || !/^\d+$/.test(v)) continue
        text += `${join(dev, f)}:${v}\n`
        found++
      }
      if (found === 0) unread = true
    }
    if (!unread || this.#rocm === 'no') return { text }
    const r = await runCommand('rocm-smi', ['--showmeminfo', 'vram'], this.timeoutMs, undefined, this.signal)
    if (r.ok) {
      this.#rocm = 'yes'
      return { text: text + (r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`) }
    }
    if (r.missing || this.#rocm === 'unknown') {
      this.#rocm = 'no'
      return { text, error: r.missing ? 'an AMD GPU without amdgpu memory files, and no rocm-smi: its memory is not read' : r.error }
    }
    return { text, error: r.error }
  }
}
