/**
 * Ollama's own log lines that explain memory, by their `msg`: one entry per
 * message, naming the kind of event and how each key reads. The spellings of
 * every generation are in docs/format.md and the notes they come from.
 */
import type { ServerEvent } from '../../../schemas/index.js'
import { count, sizeBytes, sizeList } from './sizes.js'

type Figures = NonNullable<ServerEvent['figures']>
/** An event without its line and time, which the log parser adds. */
export type EventBody = Omit<ServerEvent, 'record' | 'line' | 'ts' | 'clock' | 'uptimeS'>
/** A recognised line whose figures cannot all be read exactly: reported, never guessed. */
export class Unreadable {
  constructor(readonly why: string) {}
}

type Reader = (f: Map<string, string>, msg: string) => EventBody | Unreadable | undefined

const MAX_TEXT = 300

/** Reads `keys` (log key → figure) as sizes into `figures`; the first that does not read makes the line unreadable. */
function sizes(f: Map<string, string>, keys: Record<string, keyof Figures>, figures: Figures): Unreadable | undefined {
  for (const [key, name] of Object.entries(keys)) {
    const v = f.get(key)
    if (v === undefined) continue
    const list = v.trimStart().startsWith('[')
    const b = list ? sizeList(v) : sizeBytes(v)
    if (b === undefined) return new Unreadable(`${key}="${v.slice(0, 40)}" is not a size memtrace can read exactly`)
    ;(figures as Record<string, unknown>)[name] = b
  }
  return undefined
}

function counts(f: Map<string, string>, keys: Record<string, keyof Figures>, figures: Figures): Unreadable | undefined {
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

function withFigures(kind: EventBody['kind'], f: Map<string, string>, sizeKeys: Record<string, keyof Figures>, countKeys: Record<string, keyof Figures> = {}): EventBody | Unreadable {
  const figures: Figures = {}
  const bad = sizes(f, sizeKeys, figures) ?? counts(f, countKeys, figures)
  if (bad) return bad
  const e: EventBody = { kind, figures }
  const model = f.get('model')
  if (model) e.model = model.slice(0, 200)
  return e
}

/** `Operation:fit … Parallel:1 BatchSize:512 … KvSize:16384 …`: Go's %+v of the load request. */
function loadRequest(f: Map<string, string>): EventBody | Unreadable | undefined {
  const req = f.get('request') ?? ''
  const op = /\bOperation:(fit|alloc|commit|close)\b/.exec(req)?.[1] as EventBody['operation'] | undefined
  if (!op) return undefined
  const figures: Figures = {}
  const field = (name: string) => new RegExp(`\\b${name}:(\\d{1,9})\\b`).exec(req)?.[1]
  const kv = field('KvSize')
  const par = field('Parallel')
  const batch = field('BatchSize')
  if (kv !== undefined) figures.numCtx = Number(kv)
  if (par !== undefined) figures.parallel = Number(par)
  if (batch !== undefined) figures.numBatch = Number(batch)
  return { kind: 'load-request', operation: op, figures }
}

const COMPONENTS: Record<string, EventBody['component']> = { 'model weights': 'weights', 'kv cache': 'kv', 'compute graph': 'compute', 'total memory': 'total' }

/** `msg="model weights" device=CUDA0 size="4.1 GiB"`, and the older `buffer=` and `backend= buffer_type=` spellings. */
function allocation(f: Map<string, string>, msg: string): EventBody | Unreadable | undefined {
  const e = withFigures('allocation', f, { size: 'sizeBytes' })
  if (e instanceof Unreadable) return e
  if (e.figures?.sizeBytes === undefined) return undefined
  e.component = COMPONENTS[msg]
  const device = f.get('device') ?? f.get('buffer') ?? f.get('buffer_type') ?? f.get('backend')
  if (device) {
    e.device = device
    e.onDevice = onDevice(device)
  }
  return e
}

/** Buffers in system RAM: CPU, CPU_Mapped, BLAS, CPU_*, *_Host. The others are on the device (or unified memory). */
export function onDevice(device: string): boolean {
  return !(/^CPU/i.test(device) || /^BLAS$/i.test(device) || /_Host$/i.test(device))
}

function failed(kind: EventBody['kind'], text: string | undefined, f: Map<string, string>): EventBody {
  const e: EventBody = { kind }
  const model = f.get('model')
  if (model) e.model = model.slice(0, 200)
  if (text) e.text = text.slice(0, MAX_TEXT)
  // `model requires more system memory (7.3 GiB) than is available (6.0 GiB)`
  const m = /requires more (?:system )?memory \((\d+(?:\.\d+)? [KMGT]?i?B)\) than is available \((\d+(?:\.\d+)? [KMGT]?i?B)\)/.exec(text ?? '')
  if (m) {
    const req = sizeBytes(m[1] as string)
    const avail = sizeBytes(m[2] as string)
    if (req !== undefined && avail !== undefined) e.figures = { requiredBytes: req, availableBytes: avail }
  }
  return e
}

const DECISION_SIZES = { predicted: 'predictedBytes', available: 'availableBytes', gpu_free: 'gpuFreeBytes', system_free: 'systemFreeBytes' } as const
const DECISION_COUNTS = { predicted_num_ctx: 'predictedNumCtx', num_batch: 'numBatch' } as const

function decision(kind: 'eviction' | 'fits', f: Map<string, string>): EventBody | Unreadable {
  const e = withFigures(kind, f, DECISION_SIZES, DECISION_COUNTS)
  if (e instanceof Unreadable) return e
  const limited = bool(f.get('system_limited'))
  if (limited !== undefined) e.systemLimited = limited
  return e
}

const ESTIMATE_SIZES = {
  'memory.available': 'availablePerGpuBytes',
  'memory.required.full': 'requiredFullBytes',
  'memory.required.partial': 'requiredPartialBytes',
  'memory.required.kv': 'requiredKvBytes',
  'memory.required.allocations': 'allocationsPerGpuBytes',
  'memory.weights.total': 'weightsTotalBytes',
  'memory.graph.full': 'graphFullBytes',
  'memory.graph.partial': 'graphPartialBytes',
} as const

function estimate(f: Map<string, string>): EventBody | Unreadable {
  const e = withFigures('estimate', f, ESTIMATE_SIZES, { 'layers.offload': 'layersOffloaded', 'layers.model': 'layersTotal' })
  if (e instanceof Unreadable) return e
  const lib = f.get('library')
  if (lib) e.device = lib
  return e
}

/** `map[OLLAMA_CONTEXT_LENGTH:4096 OLLAMA_FLASH_ATTENTION:false …]`: the settings that shape memory. */
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

const READERS: [RegExp, Reader][] = [
  [/^system memory$/, f => withFigures('system-memory', f, { total: 'totalBytes', free: 'freeBytes', free_swap: 'freeSwapBytes' })],
  [/^gpu memory$/, f => gpu('gpu-memory', f, { available: 'availableBytes', free: 'freeBytes', minimum: 'minimumBytes', overhead: 'overheadBytes', total: 'totalBytes' })],
  [/^inference compute$/, f => gpu('inference-compute', f, { total: 'totalBytes', available: 'availableBytes' })],
  [/^offload(?: to (?:metal|cuda|rocm|gpu|cpu))?$/i, f => estimate(f)],
  [/^load$|^load request$/, f => loadRequest(f)],
  [/^(?:model weights|kv cache|compute graph|total memory)$/, allocation],
  [/^offloaded (\d+)\/(\d+) layers to GPU$/, (_f, msg) => {
    const m = /^offloaded (\d+)\/(\d+)/.exec(msg) as RegExpExecArray
    return { kind: 'offloaded', figures: { layersOffloaded: Number(m[1]), layersTotal: Number(m[2]) } }
  }],
  [/predicted to exceed available memory, evicting$|^model requires more memory than is currently available, evicting/, f => decision('eviction', f)],
  [/fits alongside existing models$/, f => decision('fits', f)],
  [/load failed; reducing automatic context and retrying once$/, f => {
    const e = withFigures('retry', f, {}, { old_num_ctx: 'oldNumCtx', new_num_ctx: 'newNumCtx', new_num_batch: 'numBatch' })
    if (!(e instanceof Unreadable)) e.evictAll = bool(f.get('evict_all')) ?? false
    return e
  }],
  [/load failed; evicting all other models and retrying once$/, () => ({ kind: 'retry', evictAll: true })],
  [/^evicting all other loaded models for OOM retry$/, f => withFigures('oom', f, {}, { count: 'count' })],
  [/^runtime OOM detected/, () => ({ kind: 'oom' })],
  [/^starting llama-server$|^starting llama server$/, f => starting(f)],
  [/^starting mlx runner subprocess$/, f => {
    const port = count(f.get('port'))
    const e: EventBody = { kind: 'runner-starting' }
    const model = f.get('model')
    if (model) e.model = model.slice(0, 200)
    if (port !== undefined) e.port = port
    return e
  }],
  [/^(?:llama runner|llama-server) started in (\d+(?:\.\d+)?) seconds$/, (_f, msg) => ({ kind: 'runner-started', figures: { seconds: Number(/(\d+(?:\.\d+)?) seconds$/.exec(msg)?.[1]) } })],
  [/^Load failed$|^error loading llama server$/i, f => failed('load-failed', f.get('error'), f)],
  [/process has terminated|runner has unexpectedly stopped/, (f, msg) => failed('runner-stopped', f.get('error') ? `${msg}: ${f.get('error')}` : msg, f)],
  [/^peak memory$/, f => withFigures('peak-memory', f, { size: 'sizeBytes' })],
  [/exceeds the recommended working set/, f => withFigures('working-set', f, { active: 'activeBytes', recommended: 'recommendedBytes' })],
  [/^server config$/, f => serverConfig(f)],
  [/^Listening on .*\(version ([^)\s]{1,40})\)$/, (_f, msg) => ({ kind: 'version', version: /\(version ([^)\s]+)\)$/.exec(msg)?.[1] as string })],
]

function gpu(kind: EventBody['kind'], f: Map<string, string>, keys: Record<string, keyof Figures>): EventBody | Unreadable {
  const e = withFigures(kind, f, keys)
  if (e instanceof Unreadable) return e
  const device = f.get('id') ?? f.get('library')
  if (device) e.device = device.slice(0, 80)
  return e
}

/** `starting llama-server cmd="…/llama-server --model …/blobs/sha256-… --port 40123 …"`: the port and blob, never the rest. */
function starting(f: Map<string, string>): EventBody {
  const cmd = f.get('cmd') ?? ''
  const e: EventBody = { kind: 'runner-starting' }
  const port = /\s--port[\s=](\d{1,5})\b/.exec(cmd)?.[1]
  if (port) e.port = Number(port)
  const blob = /(sha256-[0-9a-f]{64})/.exec(cmd)?.[1]
  if (blob) e.model = blob
  return e
}

/** The event a structured line tells, `Unreadable` when it is one but its figures do not read, undefined when it tells none. */
export function ollamaLine(fields: Map<string, string>): EventBody | Unreadable | undefined {
  const msg = fields.get('msg')
  if (msg === undefined) return undefined
  for (const [re, read] of READERS) if (re.test(msg)) return read(fields, msg)
  // An error that says the model did not fit, whatever the message around it.
  const err = fields.get('error')
  if (err && /requires more (?:system )?memory|out of memory|OOM/i.test(err)) return failed('load-failed', err, fields)
  return undefined
}
