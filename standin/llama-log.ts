/**
 * What a stand-in runner writes on stderr when it stands in for llama-server
 * (Ollama 0.30+), which Ollama copies into its own log. The llama.cpp runner
 * writes llama.cpp's own lines, as node-llama-cpp's logger hands them over
 * (`RunnerLog`); the simulated runner writes the memory lines llama.cpp would,
 * with the figures it simulates, in llama.cpp's layout (`simulatedLoadLines`).
 */
import type { CatalogueModel } from './catalogue.js'

const MiB = 1024 * 1024

/**
 * `%8.2f` as C's printf writes a size in MiB: two decimals, an exact half
 * rounded to even (a byte count over 2^20 is exact in binary, so halves happen:
 * 0.125 MiB prints as 0.12), right-aligned in `width` columns.
 */
export function cFixed(x: number, width: number): string {
  const hundredths = x * 100
  const text = Number.isInteger(hundredths * 2) && !Number.isInteger(hundredths) ? evenHalf(hundredths) : x.toFixed(2)
  return text.padStart(width)
}

/** A value in hundredths that lies on .5: the even neighbour, as two decimals. */
function evenHalf(hundredths: number): string {
  const down = Math.floor(hundredths)
  return ((down % 2 === 0 ? down : down + 1) / 100).toFixed(2)
}

/** `%Ns`: right-aligned, never cut. */
const right = (s: string, width: number) => s.padStart(width)

/** What the simulated runner says it allocated, all on one GPU (the stand-in's, as /api/ps says: 100% GPU). */
export interface SimulatedLoad {
  /** ggml's name of the device: `CUDA0`. */
  device: string
  /** The model's size: what /api/ps claims for its weights. */
  modelBytes: number
  /** Repeating layers (the model's blocks); llama.cpp offloads these and the output layer. */
  blocks: number
  /** Cells per sequence (num_ctx) and sequences (NUM_PARALLEL): llama-server's -c ÷ -np and -np. */
  cells: number
  seqs: number
  /** f16 K and V for every cell of every sequence: what /api/ps claims for the KV cache. */
  kBytes: number
  vBytes: number
  /** The logits of one token per sequence, in f32 (llama.cpp's output buffer, in host memory). */
  outputBytes: number
  /** The compute graph's buffer. */
  computeBytes: number
}

/** The batch Ollama asks llama-server for (num_batch). */
const BATCH = 512

/**
 * The figures for a model loaded with num_ctx × NUM_PARALLEL. The KV cache is
 * what the catalogue's shape gives (blocks × KV heads × key and value lengths ×
 * 2 bytes a cell); the compute buffer is Ollama's own graph estimate for a
 * llama model at full offload (fs/ggml GraphSize before 0.30:
 * max(4·batch·(1 + 4·embedding + ctx·(1 + heads)), 4·batch·(embedding + vocab)),
 * with ctx = num_ctx × parallel), used for every architecture here.
 */
export function simulatedLoad(m: CatalogueModel, numCtx: number, parallel: number): SimulatedLoad {
  const s = m.shape
  const head = s.embedding / s.heads
  const perCell = (len: number) => s.blocks * s.kvHeads * len * 2
  const ctx = numCtx * parallel
  const vocab = s.vocab ?? 0
  return {
    device: 'CUDA0',
    modelBytes: m.sizeBytes,
    blocks: s.blocks,
    cells: numCtx,
    seqs: parallel,
    kBytes: perCell(s.keyLength ?? head) * ctx,
    vBytes: perCell(s.valueLength ?? head) * ctx,
    outputBytes: vocab * 4 * parallel,
    computeBytes: Math.max(4 * BATCH * (1 + 4 * s.embedding + ctx * (1 + s.heads)), 4 * BATCH * (s.embedding + vocab)),
  }
}

/**
 * The simulated runner's lines, in the layout of the llama.cpp build the
 * llama.cpp runner runs (src/llama-model.cpp, llama-context.cpp,
 * llama-kv-cache.cpp: `%s: %12s model buffer size = %8.2f MiB`,
 * `%s: %10s  output buffer size = %8.2f MiB`, `%s: %10s KV buffer size = %8.2f MiB`,
 * `%s: size = %7.2f MiB (%6u cells, %3d layers, %2u/%u seqs), K (%s): %7.2f MiB, V (%s): %7.2f MiB`,
 * `%s: %10s compute buffer size = %8.2f MiB`). `load` lines come as the
 * weights are read; `context` lines once the context is made.
 */
export function simulatedLoadLines(l: SimulatedLoad): { load: string[]; context: string[] } {
  const mib = (b: number) => cFixed(b / MiB, 8)
  // The KV summary is printed from floats: (float)bytes / (1024.0f * 1024.0f).
  const fmib = (b: number) => cFixed(Math.fround(b) / MiB, 7)
  return {
    load: [
      `load_tensors: offloading ${l.blocks} repeating layers to GPU`,
      'load_tensors: offloading output layer to GPU',
      `load_tensors: offloaded ${l.blocks + 1}/${l.blocks + 1} layers to GPU`,
      `load_tensors: ${right(l.device, 12)} model buffer size = ${mib(l.modelBytes)} MiB`,
    ],
    context: [
      `llama_context: ${right(`${l.device.replace(/\d+$/, '')}_Host`, 10)}  output buffer size = ${mib(l.outputBytes)} MiB`,
      `llama_kv_cache: ${right(l.device, 10)} KV buffer size = ${mib(l.kBytes + l.vBytes)} MiB`,
      `llama_kv_cache: size = ${fmib(l.kBytes + l.vBytes)} MiB (${String(l.cells).padStart(6)} cells, ${String(l.blocks).padStart(3)} layers, ${String(l.seqs).padStart(2)}/${l.seqs} seqs), K (f16): ${fmib(l.kBytes)} MiB, V (f16): ${fmib(l.vBytes)} MiB`,
      `sched_reserve: ${right(l.device, 10)} compute buffer size = ${mib(l.computeBytes)} MiB`,
    ],
  }
}

/**
 * A runner's stderr, as llama-server writes it: one line per message, and
 * llama.cpp's progress dots (each handed over on its own) gathered on one
 * line, as llama.cpp's own log prints them. It counts the lines it wrote, so
 * that the server can copy them all before it says the runner started.
 */
export class RunnerLog {
  #dots = ''
  #count = 0
  readonly #out: NodeJS.WritableStream

  constructor(out: NodeJS.WritableStream = process.stderr) {
    this.#out = out
  }

  get count(): number {
    return this.#count
  }

  /** A message from llama.cpp: one or more lines, without the last line end. */
  message(text: string): void {
    if (/^\.+$/.test(text)) {
      this.#dots += text
      return
    }
    this.flush()
    for (const line of text.split('\n')) this.#line(line)
  }

  /** Writes the dots gathered so far, if any. */
  flush(): void {
    if (!this.#dots) return
    const dots = this.#dots
    this.#dots = ''
    this.#line(dots)
  }

  #line(line: string): void {
    this.#out.write(`${line}\n`)
    this.#count++
  }
}
