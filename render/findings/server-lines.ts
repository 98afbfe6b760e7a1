/** The server's own log in the report: its version and memory settings, and its memory lines, one sentence each. Pure. */
import type { ServerEvent } from '../../schemas/index.js'
import { gib } from '../../core/units.js'

/** The settings the report names, in the order a maintainer asks for them. */
const SETTINGS: [string, string][] = [
  ['OLLAMA_NUM_PARALLEL', 'NUM_PARALLEL'],
  ['OLLAMA_CONTEXT_LENGTH', 'context length'],
  ['OLLAMA_KV_CACHE_TYPE', 'KV cache type'],
  ['OLLAMA_FLASH_ATTENTION', 'flash attention'],
  ['OLLAMA_MAX_LOADED_MODELS', 'max loaded models'],
  ['OLLAMA_KEEP_ALIVE', 'keep-alive'],
]

/** `Ollama 0.12.3; NUM_PARALLEL 4, context length 8192, …` from the last version and server config lines, or undefined. */
export function serverSummary(events: ServerEvent[]): string | undefined {
  const version = events.filter(e => e.kind === 'version').pop()?.version
  const settings = events.filter(e => e.kind === 'server-config').pop()?.settings ?? {}
  const named = SETTINGS.map(([k, name]) => (settings[k] !== undefined ? `${name} ${settings[k] === '' ? '(default)' : settings[k]}` : undefined)).filter((x): x is string => x !== undefined)
  if (!version && named.length === 0) return undefined
  return `${version ? `Ollama ${version}` : 'Ollama'}${named.length ? `; ${named.join(', ')}` : ''}`
}

const FIGURES: [keyof NonNullable<ServerEvent['figures']>, string][] = [
  ['predictedBytes', 'predicted'],
  ['requiredFullBytes', 'required (all layers)'],
  ['requiredPartialBytes', 'required (offloaded)'],
  ['requiredBytes', 'required'],
  ['sizeBytes', 'size'],
  ['availableBytes', 'available'],
  ['freeBytes', 'free'],
  ['gpuFreeBytes', 'GPU free'],
  ['systemFreeBytes', 'system free'],
  ['totalBytes', 'total'],
  ['anonRssBytes', 'anon RSS'],
]

/** One event as a sentence: when, what, where, the figures in GiB. Never the line itself (it could carry more than memory). */
export function serverLine(e: ServerEvent, at: (ms: number) => string): string {
  const when = e.ts ? at(Date.parse(e.ts)) : (e.clock ?? `line ${e.line}`)
  const f = e.figures ?? {}
  const parts: string[] = []
  if (e.component) parts.push(e.component)
  if (e.device) parts.push(`on ${e.device}`)
  if (e.model) parts.push(e.model.replace(/^.*\/(sha256-[0-9a-f]{12})[0-9a-f]*$/, '$1'))
  for (const [k, name] of FIGURES) if (typeof f[k] === 'number') parts.push(`${name} ${gib(f[k] as number)}`)
  if (f.availablePerGpuBytes) parts.push(`available ${f.availablePerGpuBytes.map(gib).join(' + ')}`)
  if (f.layersOffloaded !== undefined) parts.push(`${f.layersOffloaded}${f.layersTotal !== undefined ? `/${f.layersTotal}` : ''} layers on the GPU`)
  if (f.oldNumCtx !== undefined && f.newNumCtx !== undefined) parts.push(`context ${f.oldNumCtx} → ${f.newNumCtx}`)
  if (e.systemLimited !== undefined) parts.push(e.systemLimited ? 'limited by system memory' : 'limited by GPU memory')
  if (e.signal) parts.push(`signal ${e.signal}`)
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`)
  return `${when} ${e.kind}${parts.length ? `: ${parts.join(', ')}` : ''}`
}

/** The events worth a line in the report: decisions, estimates, allocations, kills. */
export function reportedEvents(events: ServerEvent[]): ServerEvent[] {
  return events.filter(e => e.kind !== 'version' && e.kind !== 'server-config' && e.kind !== 'inference-compute' && e.kind !== 'offloaded')
}
