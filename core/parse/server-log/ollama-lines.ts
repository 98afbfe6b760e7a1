/**
 * Ollama's own log lines that explain memory, by their `msg`: one entry per
 * message, naming the kind of event and how each key reads. docs/format.md
 * lists the spellings of every generation, and the fixtures where each
 * comes from.
 */
import type { ServerEvent } from '../../../schemas/index.js'
import { count, sizeBytes, sizeList } from './sizes.js'

type Figures = NonNullable<ServerEvent['figures']>
/** An event without its line and time, which the log parser adds. */
export type EventBody = Omit<ServerEvent, 'record' | 'line' | 'lastLine' | 'ts' | 'clock' | 'uptimeS' | 'repeated'>
/** A recognised line whose figures cannot all be read exactly: reported, never guessed. */
export class Unreadable {
  constructor(readonly why: string) {}
}

type Reader = (f: Map<string, string>, msg: string) => EventBody | Unreadable | undefined
type Keys = Record<string, keyof Figures>

const MAX_TEXT = 300

/** Reads `keys` (log key → figure) as Ollama's sizes (binary units, as format.HumanBytes2 prints them); the first that does not read makes the line unreadable. */
function sizes(f: Map<string, string>, keys: Keys, figures: Figures, raw: Keys = {}): Unreadable | undefined {
  for (const [key, name] of Object.entries({ ...keys, ...raw })) {
    const v = f.get(key)
    if (v === undefined) continue
    // Some lines print plain byte counts (`available=10380267520`, `required=9431937024`).
    const b = key in raw && /^\d{1,16}$/.test(v) ? Number(v) : v.trimStart().startsWith('[') ? sizeList(v, true) : sizeBytes(v, true)
    if (b === undefined) return new Unreadable(`${key}="${v.slice(0, 40)}" is not a size memtrace can read exactly`)
    ;(figures as Record<string, unknown>)[name] = b
  }
  return undefined
}

function counts(f: Map<string, string>, keys: Keys, figures: Figures): Unreadable | undefined {
  for (const [key, name] of Object.entries(keys)) {
    const v = f.get(key)
    if (v === undefined || v === '') continue
    const n = count(v)
    if (n === undefined) return new Unreadable(`${key}=${v.slice(0, 40)} is not a count`)
    ;(figures as Record<string, unknown>)[name] = n
  }
  return undefined
}

function bool(v: string | undefined): boolean | undefined {
  return v === 'true' ? true : v === 'false' ? false : undefined
}

function withFigures(kind: EventBody['kind'], f: Map<string, string>, sizeKeys: Keys, countKeys: Keys = {}, rawKeys: Keys = {}): EventBody | Unreadable {
  const figures: Figures = {}
  const bad = sizes(f, sizeKeys, figures, rawKeys) ?? counts(f, countKeys, figures)
  if (bad) return bad
  const e: EventBody = { kind, figures }
  const model = f.get('model')
  if (model) e.model = model.slice(0, 300)
  return e
}

/** `Operation:fit … Parallel:1 BatchSize:512 … KvSize:16384 … GPULayers:49[…]`: Go's %+v of the load request. */
function loadRequest(f: Map<string, string>): EventBody | undefined {
  const req = f.get('request') ?? ''
  const op = /\bOperation:(fit|alloc|commit|close)\b/.exec(req)?.[1] as EventBody['operation'] | undefined
  if (!op) return undefined
  const figures: Figures = {}
  const field = (name: string) => new RegExp(`\\b${name}:(\\d{1,9})\\b`).exec(req)?.[1]
  const set = (name: keyof Figures, v: string | undefined) => v !== undefined && ((figures as Record<string, unknown>)[name] = Number(v))
  set('numCtx', field('KvSize'))
  set('parallel', field('Parallel'))
  set('numBatch', field('BatchSize'))
  set('layersOffloaded', field('GPULayers'))
  return { kind: 'load-request', operation: op, figures }
}

const COMPONENTS: Record<string, EventBody['component']> = { 'model weights': 'weights', 'kv cache': 'kv', 'compute graph': 'graph', 'total memory': 'total' }

/** `msg="model weights" device=CUDA0 size="4.1 GiB"`, and the older `buffer=` and `backend= buffer_type=` spellings. */
function allocation(f: Map<string, string>, msg: string): EventBody | Unreadable {
  if (!f.has('size')) return new Unreadable(`${msg}: no size on the line`)
  const e = withFigures('allocation', f, { size: 'sizeBytes' })
  if (e instanceof Unreadable) return e
  e.component = COMPONENTS[msg]
  const device = f.get('device') ?? f.get('buffer_type') ?? f.get('buffer') ?? f.get('backend')
  if (device === '') return new Unreadable(`${msg}: an empty device`)
  if (device) {
    e.device = device.slice(0, 80)
    e.onDevice = onDevice(device)
  }
  return e
}

/**
 * Buffers in system RAM: CPU, CPU_Mapped, BLAS, CPU_* (ggml's CPU repacks:
 * CPU_REPACK, CPU_AARCH64, CPU_KLEIDIAI), AMX (the weights repacked for
 * Intel's AMX tiles, in system RAM like the others, though its name does not
 * say CPU), *_Host. The others are on the device (or unified memory).
 */
export function onDevice(device: string): boolean {
  return !(/^CPU/i.test(device) || /^(?:BLAS|AMX)$/i.test(device) || /_Host$/i.test(device))
}

/** `signal: killed` or `exit status 2` in an error's text. */
function exitOf(text: string | undefined, e: EventBody): void {
  const sig = /\bsignal: ([a-z ]{1,30}?)(?:$|[",;)])/.exec(text ?? '')?.[1]
  if (sig) e.signal = sig.trim()
  const code = /\bexit status (\d{1,3})\b/.exec(text ?? '')?.[1]
  if (code) e.exitCode = Number(code)
}

function failed(kind: EventBody['kind'], text: string | undefined, f: Map<string, string>): EventBody {
  const e: EventBody = { kind }
  const model = f.get('model')
  if (model) e.model = model.slice(0, 300)
  if (text) e.text = text.slice(0, MAX_TEXT)
  exitOf(text, e)
  // `model requires more system memory (7.3 GiB) than is available (6.0 GiB)`
  const m = /requires more (?:system )?memory \((\d+(?:\.\d+)? [KMGT]?i?B)\) than is available \((\d+(?:\.\d+)? [KMGT]?i?B)\)/.exec(text ?? '')
  if (m) {
    const req = sizeBytes(m[1] as string, true)
    const avail = sizeBytes(m[2] as string, true)
    if (req !== undefined && avail !== undefined) e.figures = { requiredBytes: req, availableBytes: avail }
  }
  return e
}

const DECISION_SIZES = { predicted: 'predictedBytes', available: 'availableBytes', gpu_free: 'gpuFreeBytes', system_free: 'systemFreeBytes' } as const
const DECISION_COUNTS = { predicted_num_ctx: 'predictedNumCtx', num_batch: 'numBatch', 'loaded layers': 'layersOffloaded', parallel: 'parallel' } as const

function decision(kind: 'eviction' | 'fits', f: Map<string, string>, raw: Keys = {}): EventBody | Unreadable {
  const e = withFigures(kind, f, DECISION_SIZES, DECISION_COUNTS, raw)
  if (e instanceof Unreadable) return e
  const limited = bool(f.get('system_limited'))
  if (limited !== undefined) e.systemLimited = limited
  const gpu = f.get('gpu')
  if (gpu) e.device = gpu.slice(0, 80)
  return e
}

const ESTIMATE_SIZES = {
  'memory.available': 'availablePerGpuBytes',
  'memory.gpu_overhead': 'overheadBytes',
  'memory.required.full': 'requiredFullBytes',
  'memory.required.partial': 'requiredPartialBytes',
  'memory.required.kv': 'requiredKvBytes',
  'memory.required.allocations': 'allocationsPerGpuBytes',
  'memory.weights.total': 'weightsTotalBytes',
  'memory.graph.full': 'graphFullBytes',
  'memory.graph.partial': 'graphPartialBytes',
} as const

/** `msg=offload library=…`, `msg="offload to metal"` (0.1.45 to 0.5.11), `msg="offload to gpu"` (0.1.3x, a single memory.available). */
function estimate(f: Map<string, string>, msg: string): EventBody | Unreadable {
  const e = withFigures('estimate', f, ESTIMATE_SIZES, { 'layers.offload': 'layersOffloaded', 'layers.real': 'layersOffloaded', 'layers.model': 'layersTotal' })
  if (e instanceof Unreadable) return e
  const lib = f.get('library') ?? /^offload to (\w+)$/.exec(msg)?.[1]
  if (lib) e.library = lib
  // Before 0.1.45 one figure for all GPUs, not a list.
  const figs = e.figures as Record<string, unknown>
  if (typeof figs.availablePerGpuBytes === 'number') {
    figs.availableBytes = figs.availablePerGpuBytes
    delete figs.availablePerGpuBytes
  }
  return e
}

/** The memory settings of `map[OLLAMA_CONTEXT_LENGTH:4096 OLLAMA_FLASH_ATTENTION:false …]`, and nothing else. */
const SETTINGS = ['OLLAMA_NUM_PARALLEL', 'OLLAMA_CONTEXT_LENGTH', 'OLLAMA_KV_CACHE_TYPE', 'OLLAMA_FLASH_ATTENTION', 'OLLAMA_MAX_LOADED_MODELS', 'OLLAMA_KEEP_ALIVE', 'OLLAMA_GPU_OVERHEAD', 'OLLAMA_SCHED_SPREAD', 'OLLAMA_NEW_ENGINE', 'OLLAMA_LLM_LIBRARY']

function serverConfig(f: Map<string, string>): EventBody | undefined {
  const env = f.get('env')
  if (!env?.startsWith('map[')) return undefined
  const settings: Record<string, string> = {}
  for (const key of SETTINGS) {
    const m = new RegExp(`(?:\\[| )${key}:([^ \\]]*)`).exec(env)
    if (m) settings[key] = (m[1] as string).slice(0, 100)
  }
  return { kind: 'server-config', settings }
}

function gpu(kind: EventBody['kind'], f: Map<string, string>, keys: Keys): EventBody | Unreadable {
  const e = withFigures(kind, f, keys)
  if (e instanceof Unreadable) return e
  const device = f.get('id') ?? f.get('gpu')
  if (device) e.device = device.slice(0, 80)
  const lib = f.get('library')
  if (lib) e.library = lib.slice(0, 40)
  return e
}

/** A runner's start: its port, weights blob, context, batch and slots from its command line, never the rest of it. */
function starting(f: Map<string, string>): EventBody {
  const cmd = f.get('cmd') ?? ''
  const e: EventBody = { kind: 'runner-starting' }
  const figures: Figures = {}
  const arg = (re: RegExp) => re.exec(cmd)?.[1]
  const set = (name: keyof Figures, v: string | undefined) => v !== undefined && ((figures as Record<string, unknown>)[name] = Number(v))
  set('numCtx', arg(/\s(?:--ctx-size|-c)[\s=](\d{1,9})\b/))
  set('numBatch', arg(/\s(?:--batch-size|-b)[\s=](\d{1,9})\b/))
  set('parallel', arg(/\s(?:--parallel|-np)[\s=](\d{1,4})\b/))
  const port = arg(/\s--port[\s=](\d{1,5})\b/) ?? f.get('port')
  if (port && /^\d{1,5}$/.test(port)) e.port = Number(port)
  const blob = /(sha256[-:][0-9a-f]{64})/.exec(cmd)?.[1]
  if (blob) e.model = blob.replace(':', '-')
  else if (f.get('model')) e.model = (f.get('model') as string).slice(0, 300)
  if (Object.keys(figures).length) e.figures = figures
  return e
}

/** MLX's `finished setting up` (debug): what the scheduler holds for the runner. */
function settledRunner(f: Map<string, string>): EventBody | Unreadable {
  const e = withFigures('allocation', f, { 'runner.size': 'sizeBytes', 'runner.vram': 'vramBytes' }, { 'runner.parallel': 'parallel', 'runner.num_ctx': 'numCtx' })
  if (e instanceof Unreadable) return e
  e.component = 'total'
  const pid = count(f.get('runner.pid'))
  if (pid !== undefined) e.pid = pid
  const model = f.get('runner.name') ?? f.get('runner.model')
  if (model) e.model = model.slice(0, 300)
  return e
}

function port(kind: EventBody['kind'], f: Map<string, string>, figures?: Figures): EventBody {
  const e: EventBody = { kind, ...(figures ? { figures } : {}) }
  const p = count(f.get('port'))
  if (p !== undefined) e.port = p
  return e
}

const READERS: [RegExp, Reader][] = [
  [/^system memory$/, f => withFigures('system-memory', f, { total: 'totalBytes', free: 'freeBytes', free_swap: 'freeSwapBytes' })],
  [/^gpu memory$/, f => gpu('gpu-memory', f, { available: 'availableBytes', free: 'freeBytes', minimum: 'minimumBytes', overhead: 'overheadBytes', total: 'totalBytes' })],
  [/^updated VRAM based on existing loaded models$/, f => gpu('gpu-memory', f, { total: 'totalBytes', available: 'availableBytes' })],
  [/^inference compute$/, f => gpu('inference-compute', f, { total: 'totalBytes', available: 'availableBytes' })],
  [/^offload(?: to \w+)?$/, estimate],
  [/^load$|^load request$/, f => loadRequest(f)],
  [/^(?:model weights|kv cache|compute graph|total memory)$/, allocation],
  [/^offloaded (\d+)\/(\d+) layers to GPU$/, (_f, msg) => {
    const m = /^offloaded (\d+)\/(\d+)/.exec(msg) as RegExpExecArray
    return { kind: 'offloaded', figures: { layersOffloaded: Number(m[1]), layersTotal: Number(m[2]) } }
  }],
  [/predicted to exceed available memory, evicting$|^model requires more (?:\w+ )?memory than is currently available, evicting/, f => decision('eviction', f, { required: 'requiredBytes', free: 'freeBytes' })],
  [/^evicting all other loaded models for OOM retry$/, f => withFigures('eviction', f, {}, { count: 'count' })],
  [/fits alongside existing models$/, f => decision('fits', f)],
  [/^new model will fit in available VRAM/, f => decision('fits', f, { required: 'predictedBytes', available: 'availableBytes' })],
  [/load failed; reducing automatic context and retrying once$/, f => {
    const e = withFigures('retry', f, {}, { old_num_ctx: 'oldNumCtx', new_num_ctx: 'newNumCtx', new_num_batch: 'numBatch', loaded_count: 'count' })
    if (!(e instanceof Unreadable)) {
      e.evictAll = bool(f.get('evict_all')) ?? false
      const err = f.get('error')
      if (err) e.text = err.slice(0, MAX_TEXT)
    }
    return e
  }],
  [/load failed; evicting all other models and retrying once$/, f => {
    const e = withFigures('retry', f, {}, { loaded_count: 'count' })
    if (!(e instanceof Unreadable)) {
      e.evictAll = true
      const err = f.get('error')
      if (err) e.text = err.slice(0, MAX_TEXT)
    }
    return e
  }],
  [/^runtime OOM detected/, f => failed('oom', f.get('error'), f)],
  [/^starting (?:llama-server|llama server|llama runner|runner)$/, f => starting(f)],
  [/^starting mlx runner subprocess$/, f => starting(f)],
  [/^(?:llama runner|llama-server) started in (\d+(?:\.\d+)?) seconds$/, (f, msg) => port('runner-started', f, { seconds: Number(/(\d+(?:\.\d+)?) seconds$/.exec(msg)?.[1]) })],
  [/^mlx runner is ready$/, f => port('runner-started', f)],
  [/^Load failed$|^error loading llama server$/i, f => failed('load-failed', f.get('error'), f)],
  [/^(?:llama runner|llama-server) terminated$|process has terminated|runner has unexpectedly stopped/, (f, msg) => failed('runner-stopped', f.get('error') ? `${msg}: ${f.get('error')}` : msg, f)],
  [/^peak memory$/, f => withFigures('peak-memory', f, { size: 'sizeBytes' })],
  [/exceeds the recommended working set/, f => withFigures('working-set', f, { active: 'activeBytes', recommended: 'recommendedBytes' })],
  [/^Configured MLX wired memory$/, f => withFigures('working-set', f, { active: 'activeBytes', limit: 'limitBytes', previous: 'previousBytes' })],
  [/^finished setting up$/, f => settledRunner(f)],
  [/^server config$/, f => serverConfig(f)],
  [/^Listening on .*\(version ([^)\s]{1,40})\)$/, (_f, msg) => ({ kind: 'version', version: /\(version ([^)\s]+)\)$/.exec(msg)?.[1] as string })],
]

/** Kinds whose figures are the point: a line of one of them that was cut is reported. */
const MEMORY_MSG_RE = /^(?:system memory|gpu memory|inference compute|offload|model weights|kv cache|compute graph|total memory|peak memory|llama-server model)/

/** The event a structured line tells, `Unreadable` when it is one but its figures do not read, undefined when it tells none. */
export function ollamaLine(fields: Map<string, string>, cut = false): EventBody | Unreadable | undefined {
  const msg = fields.get('msg')
  if (msg === undefined) return undefined
  if (cut && MEMORY_MSG_RE.test(msg)) return new Unreadable('a memory line cut short (its last key has no value)')
  for (const [re, read] of READERS) if (re.test(msg)) return read(fields, msg)
  // An error that says the model did not fit, whatever the message around it.
  const err = fields.get('error')
  if (err && /requires more (?:system )?memory|out of memory|OOM/i.test(err)) return failed('load-failed', err, fields)
  return undefined
}
