import type { SystemSample } from '../../schemas/index.js'
import { PerBlock } from './per-block.js'
import type { ProblemLog } from './problems.js'
import * as smi from './sections/nvidia.js'

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
    if ('skipped' in row) this.#problems.add(this.#file, no, 'bad-value', row.skipped)
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
    const unread = this.#table.end()
    if (unread) this.#problems.add(this.#file, headerLine, 'bad-value', unread)
    for (const g of this.#table.gpus) this.#put(g.key, g.gpu, headerLine)
    if (s.sections.includes('nvidia-smi')) s.gpus = this.#gpus.values()
    const listed = [...this.#listing.table, ...this.#appsOnGpus()]
    if (listed.length > 0) s.gpuProcesses = listed
  }

  /** Compute processes on their GPU's index: by the uuid (or bus id) the GPU query gave, or, on a host with one GPU, that one. */
  #appsOnGpus(): smi.GpuProcess[] {
    const only = this.#gpus.size === 1 ? this.#gpus.values()[0] : undefined
    const out: smi.GpuProcess[] = []
    for (const r of this.#listing.apps) {
      const key = r.gpu === undefined ? undefined : this.#ids.get(r.gpu)
      const gpu = key === undefined ? only : this.#gpus.get(key)
      if (gpu) out.push({ gpu: gpu.index, pid: r.pid, type: 'C', usedBytes: r.usedBytes })
      else this.#problems.add(this.#file, r.no, 'bad-value', `nvidia-smi: process ${r.pid} is on a GPU this block does not list; skipped`)
    }
    return out
  }
}
