import type { SystemSample } from '../../schemas/index.js'
import { PerBlock } from './per-block.js'
import type { ProblemLog } from './problems.js'
import * as smi from './sections/nvidia.js'
import { type AmdFigure, UNIFIED_GPU_RE } from './sections/amd.js'

type AmdSource = 'amdgpu' | 'rocm-smi' | 'amd-smi'
type AppRow = { gpu?: string; pid: number; usedBytes: number; no: number }
/** The processes of one listing: a default table's, or a compute-apps query's. */
type GpuListing = { table: smi.GpuProcess[]; apps: AppRow[] }

/**
 * The GPUs of one block, from every nvidia-smi layout in it: the memory
 * query, the compute-apps query and the default table. One value per GPU and
 * one process listing per block.
 */
export class GpuBlock {
  readonly #problems: ProblemLog
  readonly #file: string
  #query: smi.NvidiaColumns | undefined
  #queryRows = 0
  #apps: smi.AppsColumns | undefined
  readonly #table = new smi.SmiTable()
  // A GPU printed again (nvidia-smi -l, two samples) keeps its last value, and its first index.
  readonly #gpus: PerBlock<smi.GpuMemory>
  /** A GPU's uuid or bus id → its key, for the compute-apps rows. */
  readonly #ids = new Map<string, string>()
  readonly #listings: PerBlock<GpuListing>
  #listing: GpuListing = { table: [], apps: [] }
  /** GPUs listed without their memory, by the same keys as `#gpus`. */
  readonly #unread = new Map<string, smi.UnreadGpu>()
  /** amdgpu's figures, by card, from sysfs, rocm-smi or amd-smi; the last printed of each is kept. */
  readonly #amd = new Map<number, { source: AmdSource; no: number; figures: Map<string, number> }>()

  constructor(problems: ProblemLog, file: string) {
    this.#problems = problems
    this.#file = file
    this.#gpus = new PerBlock(problems, file, (before, gpu) => {
      gpu.index = before.index
      return `nvidia-smi: GPU ${gpu.index} printed twice in one block (nvidia-smi -l, or two samples); the last is kept`
    })
    this.#listings = new PerBlock(problems, file, () => 'nvidia-smi: GPU processes listed twice in one block (a table and a query, nvidia-smi -l, or two samples); the last is kept')
  }

  #put(key: string, gpu: smi.GpuMemory, no: number, id?: string): void {
    if (id) this.#ids.set(id, key)
    this.#gpus.put(no, gpu, key)
  }

  #putUnread(key: string, gpu: smi.UnreadGpu, id?: string): void {
    if (id) this.#ids.set(id, key)
    this.#unread.set(key, gpu)
  }

  /** A figure of amdgpu's (sysfs, rocm-smi or amd-smi) for one card. */
  amd(f: AmdFigure, source: AmdSource, no: number): void {
    let card = this.#amd.get(f.card)
    if (!card) this.#amd.set(f.card, (card = { source, no, figures: new Map() }))
    const k = `${f.pool} ${f.what}`
    if (card.figures.has(k)) this.#problems.add(this.#file, no, 'duplicate', `${source}: card${f.card} ${k} printed twice in one block; the last is kept`)
    card.figures.set(k, f.bytes)
  }

  /** A card whose memory rocm-smi or amd-smi could not read (`N/A`). */
  amdUnread(card: number, printed: string): void {
    this.#unread.set(`amd card${card}`, { index: card, name: `card${card}`, printed })
  }

  /** An Intel GPU, seen by its DRM card's vendor: its driver publishes no memory in use, so it is named as not read. */
  intelUnread(card: number, printed: string): void {
    this.#unread.set(`intel card${card}`, { index: card, name: `Intel, card${card}`, printed })
  }

  #newListing(no: number): void {
    this.#listing = this.#listings.put(no, { table: [], apps: [] })
  }

  /** `--query-gpu=…` CSV header. */
  queryHeader(t: string): boolean {
    const h = smi.nvidiaHeader(t)
    if (!h) return false
    this.#query = h
    this.#queryRows = 0
    return true
  }

  /** A row under the query header; false when the line is none. */
  queryRow(t: string, no: number): boolean {
    if (!this.#query) return false
    const row = smi.nvidiaRow(t, this.#query, this.#queryRows)
    if (!row) return false
    this.#queryRows++
    if ('unread' in row) this.#putUnread(row.key, row.unread, row.id)
    else this.#put(row.key, row.gpu, no, row.id)
    return true
  }

  /** `--query-compute-apps=…` CSV header: a new process listing. */
  appsHeader(t: string, no: number): boolean {
    const h = smi.appsHeader(t)
    if (!h) return false
    this.#newListing(no)
    this.#apps = h
    return true
  }

  /** A row under the compute-apps header; false when the line is none. */
  appsRow(t: string, no: number): boolean {
    if (!this.#apps) return false
    const row = smi.appsRow(t, this.#apps)
    if (!row) return false
    if (row.usedBytes === undefined) this.#problems.add(this.#file, no, 'bad-value', `nvidia-smi: the memory of process ${row.pid} is not given (Windows and WSL do not report it); skipped`)
    else this.#listing.apps.push({ ...row, usedBytes: row.usedBytes, no })
    return true
  }

  /** A line of the default table (banner, borders, GPU rows, processes); false when the line is none. */
  tableLine(t: string, no: number): boolean {
    const tl = this.#table.feed(t)
    if (!tl) return false
    if (tl.started) this.#newListing(no)
    if (tl.process) this.#listing.table.push(tl.process)
    if (tl.skipped) this.#problems.add(this.#file, no, 'bad-value', tl.skipped)
    return true
  }

  /** At the block's end: the GPUs (where nvidia-smi was seen) and their processes go into the sample. */
  end(s: SystemSample, headerLine: number): void {
    const unfinished = this.#table.end()
    if (unfinished) this.#problems.add(this.#file, headerLine, 'bad-value', unfinished)
    for (const g of this.#table.gpus) this.#put(g.key, g.gpu, headerLine)
    for (const g of this.#table.unread) this.#unread.set(g.key, g.gpu)
    this.#endAmd()
    for (const key of this.#gpus.keys()) this.#unread.delete(key)
    if (s.sections.includes('nvidia-smi') || this.#amd.size > 0) s.gpus = this.#gpus.values()
    const listed = [...this.#listing.table, ...this.#appsOnGpus()]
    if (listed.length > 0) s.gpuProcesses = listed
    const unread = [...this.#unread.values()]
    if (unread.length > 0) s.gpuUnread = unread
    // GPU memory that is system RAM: by the GPU's name, or no memory figure yet figures per process.
    const named = [...this.#gpus.values(), ...unread].some(g => g.name !== undefined && UNIFIED_GPU_RE.test(g.name))
    if (named || (unread.length > 0 && listed.some(p => unread.some(u => u.index === p.gpu)))) s.unifiedMemory = true
  }

  /** amdgpu's cards: VRAM used and total make a GPU; GTT rides along. */
  #endAmd(): void {
    for (const [n, card] of this.#amd) {
      const f = card.figures
      const used = f.get('vram used')
      const total = f.get('vram total')
      // Its VRAM printed N/A (other figures beside it): listed as unread, not as half a pair.
      if ((used === undefined || total === undefined) && this.#unread.has(`amd card${n}`)) continue
      if (used === undefined || total === undefined) {
        this.#problems.add(this.#file, card.no, 'bad-value', `${card.source}: card${n} has VRAM ${used === undefined ? 'total' : 'used'} without its ${used === undefined ? 'used' : 'total'}; skipped`)
        continue
      }
      const gttUsed = f.get('gtt used')
      const gttTotal = f.get('gtt total')
      const gpu: smi.GpuMemory = { index: n, name: `card${n}`, usedBytes: used, totalBytes: total, source: card.source, ...(gttUsed !== undefined ? { gttUsedBytes: gttUsed } : {}), ...(gttTotal !== undefined ? { gttTotalBytes: gttTotal } : {}) }
      this.#gpus.put(card.no, gpu, `amd card${n}`)
    }
  }

  /** Compute processes on their GPU's index: by the uuid (or bus id) the GPU query gave, or, on a host with one GPU, that one. */
  #appsOnGpus(): smi.GpuProcess[] {
    const all = [...this.#gpus.values(), ...this.#unread.values()]
    const only = all.length === 1 ? all[0] : undefined
    const out: smi.GpuProcess[] = []
    for (const r of this.#listing.apps) {
      const key = r.gpu === undefined ? undefined : this.#ids.get(r.gpu)
      const gpu = key === undefined ? only : this.#gpus.get(key) ?? this.#unread.get(key)
      if (gpu) out.push({ gpu: gpu.index, pid: r.pid, type: 'C', usedBytes: r.usedBytes })
      else this.#problems.add(this.#file, r.no, 'bad-value', `nvidia-smi: process ${r.pid} is on a GPU this block does not list; skipped`)
    }
    return out
  }
}
