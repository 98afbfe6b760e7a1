/** `memtrace plan MODEL`: the command around `plan()`, with this machine's figures measured now. */
import { platform } from 'node:os'
import { parseArgs } from 'node:util'
import { InputError, UsageError } from '../core/errors.js'
import { linuxSystemText } from '../daemon/index.js'
import { macSystemText } from '../daemon/index.js'
import { runCommand } from '../daemon/index.js'
import { ProblemLog } from '../core/parse/problems.js'
import { parseBlock } from '../core/parse/system-block.js'
import { sizeBytes } from '../core/parse/server-log/sizes.js'
import { jsonLine, oneLine } from '../core/safe-text.js'
import { gibOrMib as gib } from '../core/units.js'
import { whole } from './args.js'
import { type KvType, plan, type Plan } from '../core/plan.js'
import { findModel, modelDirs, readFacts } from '../core/model-files.js'

export const PLAN_HELP = `Usage: memtrace plan MODEL [--num-ctx N] [--num-parallel N] [--kv-type f16|q8_0|q4_0]
                     [--flash-attention on|off] [--memory SIZE [--os-reserve SIZE]]
                     [--models DIR] [--json]

What MODEL should need, from the GGUF metadata of its local weights (found
through its manifest, as Ollama lays them out): weights + KV cache per slot
× slots + llama.cpp's compute buffer + what this machine uses now
(measured), set against its memory (and the GPUs' where nvidia-smi reports
them), or against another machine's with --memory. Says the most slots
(NUM_PARALLEL) that fit at the context, and the longest context that fits
with the slots.

Options:
  --num-ctx N          context of each slot (default 4096, Ollama's)
  --num-parallel N     slots (default 1)
  --kv-type T          KV cache type: f16 (default), q8_0, q4_0
  --flash-attention X  on (default): no attention-score buffers; off: llama.cpp
                       without flash attention, which holds them
  --memory SIZE        plan for a machine of SIZE (e.g. 32GiB) instead of this one
  --os-reserve SIZE    what the OS and other programs hold there (default with
                       --memory: 8GiB, seed 000's figure; without --memory it
                       replaces this machine's memory in use)
  --models DIR         where the models are (default: $OLLAMA_MODELS, ~/.ollama/models,
                       /usr/share/ollama/.ollama/models)
  --json               print one JSON object (schema: memtrace schema plan)`


/** Memory in all and in use now: /proc/meminfo on Linux, vm_stat and memory_pressure on macOS, read as the renderer reads them. */
export async function memoryNow(): Promise<{ memTotalBytes: number; osReserveBytes: number }> {
  const text = platform() === 'darwin' ? (await macSystemText(3000)).text : linuxSystemText().text
  const lines = text.split('\n').map((t, i) => ({ text: t, no: i + 2 }))
  const { sample } = parseBlock('system', new Date().toISOString(), 1, lines, new ProblemLog())
  const total = sample.memTotalBytes
  const used = sample.usedBytes ?? (total !== undefined && sample.freePct !== undefined ? Math.round(total * (1 - sample.freePct / 100)) : undefined)
  if (total === undefined || used === undefined) throw new InputError("this machine's memory could not be read")
  return { memTotalBytes: total, osReserveBytes: used }
}

/** What the OS and other programs are taken to hold on a machine given by --memory (seed 000's formula: "8 GB for OS"). */
export const DEFAULT_OS_RESERVE_BYTES = 8 * 1024 ** 3

/** `32GiB`, `16 GB`, `8192MiB`: bytes, exactly as written (GB is 10^9, GiB 2^30), or a usage error naming the option. */
export function sizeOption(name: string, v: string): number {
  const b = sizeBytes(v)
  if (b === undefined || !Number.isSafeInteger(Math.round(b))) throw new UsageError(`--${name} wants a size such as 32GiB or 16GB, not "${oneLine(v).slice(0, 40)}"`)
  return Math.round(b)
}

/**
 * The host to plan for: another machine's memory and reserve where given
 * (no GPU: its GPUs are not this one's), else this machine's memory now and
 * the GPUs' where nvidia-smi reports them.
 */
async function host(memory?: number, reserve?: number): Promise<{ memTotalBytes: number; osReserveBytes: number; vramTotalBytes?: number; given: boolean }> {
  if (memory !== undefined) return { memTotalBytes: memory, osReserveBytes: reserve ?? DEFAULT_OS_RESERVE_BYTES, given: true }
  const measured = await memoryNow()
  const mem = { ...measured, ...(reserve !== undefined ? { osReserveBytes: reserve } : {}), given: reserve !== undefined }
  const smi = await runCommand('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], 3000)
  const vram = smi.ok ? smi.stdout.trim().split('\n').map(Number).filter(n => Number.isFinite(n)) : []
  return { ...mem, ...(vram.length ? { vramTotalBytes: vram.reduce((a, n) => a + n, 0) * 1024 ** 2 } : {}) }
}

export async function runPlan(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'num-ctx': { type: 'string' },
      'num-parallel': { type: 'string' },
      'kv-type': { type: 'string' },
      'flash-attention': { type: 'string' },
      memory: { type: 'string' },
      'os-reserve': { type: 'string' },
      models: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    out.write(`${PLAN_HELP}\n`)
    return 0
  }
  const name = positionals[0]
  if (!name || positionals.length > 1) throw new UsageError('plan wants one model name')
  const kvType = (values['kv-type'] ?? 'f16') as KvType
  if (!['f16', 'q8_0', 'q4_0'].includes(kvType)) throw new UsageError(`--kv-type is f16, q8_0 or q4_0, not "${kvType}"`)
  const fa = values['flash-attention'] ?? 'on'
  if (fa !== 'on' && fa !== 'off') throw new UsageError(`--flash-attention is on or off, not "${fa}"`)
  const opts = { numCtx: whole('num-ctx', values['num-ctx'], 4096), numParallel: whole('num-parallel', values['num-parallel'], 1), kvType, flashAttention: fa === 'on' }
  const dirs = values.models ? [values.models] : modelDirs()
  const found = findModel(dirs, name)
  if (!found) throw new InputError(`no manifest for ${oneLine(name)} in ${dirs.join(', ')} (pull it, or say where with --models)`)
  const facts = await readFacts(found.blob)
  if (typeof facts === 'string') throw new InputError(`${oneLine(name)}: ${facts}`)
  const memory = values.memory !== undefined ? sizeOption('memory', values.memory) : undefined
  if (memory === 0) throw new UsageError('--memory wants a size above 0')
  const reserve = values['os-reserve'] !== undefined ? sizeOption('os-reserve', values['os-reserve']) : undefined
  if (memory !== undefined && reserve !== undefined && reserve >= memory) throw new UsageError(`--os-reserve (${gib(reserve)}) leaves nothing of --memory (${gib(memory)})`)
  const h = await host(memory, reserve)
  const p = { ...plan(name, facts, found.sizeBytes, h, opts), host: h.given ? ('given' as const) : ('measured' as const) }
  const capped = p.contextLength < opts.numCtx ? `${oneLine(name)} was trained for ${p.contextLength} tokens: Ollama caps --num-ctx ${opts.numCtx} there, and so does this plan.\n` : ''
  out.write(values.json ? `${jsonLine({ record: 'plan', ...p })}\n` : capped + text(p))
  return 0
}

function text(p: Plan & { host: 'given' | 'measured' }): string {
  const fits = p.totalBytes <= p.memTotalBytes
  const rows = [
    `${oneLine(p.model)} at ${p.contextLength} context × ${p.slots} slot${p.slots > 1 ? 's' : ''} (KV cache ${p.kvType}, flash attention ${p.flashAttention ? 'on' : 'off'}):`,
    `  weights                     ${gib(p.weightsBytes)}`,
    `  KV cache  ${p.slots} × ${gib(p.kvBytesPerSlot)}`.padEnd(30) + gib(p.kvBytesPerSlot * p.slots),
    `  compute (llama.cpp's rule)  ${gib(p.computeBytes)}`,
    p.host === 'given' ? `  OS and others (given)       ${gib(p.osReserveBytes)}` : `  in use now (measured)       ${gib(p.osReserveBytes)}`,
    `  total                       ${gib(p.totalBytes)} of ${gib(p.memTotalBytes)}: ${fits ? 'fits' : 'does not fit'}`,
  ]
  if (p.vramTotalBytes !== undefined) rows.push(`  GPU memory                  ${gib(p.vramTotalBytes)} (weights and KV cache beyond it stay in system memory)`)
  rows.push(
    p.maxParallel > 0 ? `The most slots that fit at ${p.contextLength} context: NUM_PARALLEL=${p.maxParallel}.` : `Not even one slot fits at ${p.contextLength} context.`,
    p.maxContext > 0 ? `The longest context that fits with ${p.slots} slot${p.slots > 1 ? 's' : ''}: ${p.maxContext}.` : `No context of 2048 or more fits with ${p.slots} slot${p.slots > 1 ? 's' : ''}.`,
  )
  return `${rows.join('\n')}\n`
}
