import type { GpuBlock } from './gpu-block.js'
import type { ProblemLog } from './problems.js'
import type { AmdFigure } from './sections/amd.js'
import * as smi from './sections/amd-smi.js'

/**
 * The lines `amd-smi` prints in a block: `amd-smi metric` (a `GPU: N` line,
 * then `MEM_USAGE:` and its figures among the other metrics, read past),
 * `amd-smi metric --csv`, `amd-smi monitor` and `amd-smi` alone (its box
 * view); and its `--json` bodies, which the block hands over. Each GPU's
 * figures go to the block's AMD GPUs under that GPU's number. A blank line
 * ends a GPU's part, a table and the box.
 */
export class AmdSmiLines {
  readonly #problems: ProblemLog
  readonly #file: string
  readonly #gpu: GpuBlock
  /** The GPU whose `amd-smi metric` lines these are, and whether they are under `MEM_USAGE:`. */
  #card: number | undefined
  #inMem = false
  #monitor: smi.MonitorColumns | undefined
  #csv: smi.MetricCsvColumns | undefined
  /** Inside the box `amd-smi` alone prints. */
  #box = false

  constructor(problems: ProblemLog, file: string, gpu: GpuBlock) {
    this.#problems = problems
    this.#file = file
    this.#gpu = gpu
  }

  blank(): void {
    this.#card = undefined
    this.#inMem = false
    this.#monitor = undefined
    this.#csv = undefined
    this.#box = false
  }

  #put(f: AmdFigure, no: number): void {
    this.#gpu.amd(f, 'amd-smi', no)
  }

  /** Whether the line was amd-smi's. */
  line(t: string, next: string | undefined, no: number): boolean {
    if (this.#box || smi.isAmdSmiBoxStart(t, next)) {
      this.#box = true
      const box = smi.amdSmiBoxLine(t)
      if (box) {
        if ('process' in box) this.#problems.add(this.#file, no, 'unrecognised-line', 'amd-smi: a process row, its memory printed to one decimal; not read')
        else if ('gpu' in box) this.#row(box, no)
        return true
      }
      this.#box = false
    }
    const card = smi.amdSmiGpuLine(t)
    if (card !== undefined) {
      this.#card = card
      this.#inMem = false
      this.#monitor = undefined
      this.#csv = undefined
      return true
    }
    if (this.#card !== undefined && this.#metricLine(t, this.#card, no)) return true
    if (this.#monitor) {
      const row = smi.amdSmiMonitorRow(t, this.#monitor)
      if (row) {
        this.#row(row, no)
        return true
      }
      this.#monitor = undefined
    }
    if (this.#csv) {
      const row = smi.amdSmiCsvRow(t, this.#csv)
      if (row) {
        if ('skipped' in row) this.#problems.add(this.#file, no, 'bad-value', row.skipped)
        else {
          for (const f of row.figures) this.#put(f, no)
          if (row.unread !== undefined) this.#gpu.amdUnread(row.unread, 'N/A')
        }
        return true
      }
      this.#csv = undefined
    }
    const monitor = smi.amdSmiMonitorHeader(t)
    if (monitor) {
      this.#monitor = monitor
      return true
    }
    const csv = smi.amdSmiCsvHeader(t)
    if (csv) {
      this.#csv = csv
      return true
    }
    return false
  }

  /** A `--json` body: its figures and unread GPUs; what it printed in no known unit is said. */
  json(body: smi.AmdSmiJson, no: number): void {
    for (const f of body.figures) this.#put(f, no)
    for (const card of body.unread) this.#gpu.amdUnread(card, 'N/A')
    for (const why of body.skipped) this.#problems.add(this.#file, no, 'bad-value', why)
  }

  #metricLine(t: string, card: number, no: number): boolean {
    if (t === 'MEM_USAGE:') {
      this.#inMem = true
      return true
    }
    if (this.#inMem) {
      const mem = smi.amdSmiMemLine(t)
      if (mem) {
        if ('figure' in mem) this.#put({ card, ...mem.figure }, no)
        else if ('unread' in mem && mem.unread.pool === 'vram') this.#gpu.amdUnread(card, mem.unread.printed)
        else if ('skipped' in mem) this.#problems.add(this.#file, no, 'bad-value', mem.skipped)
        return true
      }
      this.#inMem = false
    }
    return smi.isAmdSmiKeyLine(t) || smi.isAmdSmiListRest(t)
  }

  #row(row: NonNullable<ReturnType<typeof smi.amdSmiMonitorRow>>, no: number): void {
    if ('skipped' in row) {
      this.#problems.add(this.#file, no, 'bad-value', row.skipped)
      return
    }
    for (const f of row.figures) this.#put(f, no)
    if (row.unread !== undefined) this.#gpu.amdUnread(row.gpu, row.unread)
  }
}
