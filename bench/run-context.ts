/**
 * How a step was made, for its result line: the settings the server ran
 * with, the versions, the host. The parsers are pure; the readers (the
 * server's `/api/version` and `/api/tags`, `os`, `nvidia-smi`) are at the end.
 */
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem, type } from 'node:os'
import { spawnSync } from 'node:child_process'
import type { BenchStep } from '../schemas/index.js'
import { logfmt } from '../core/parse/server-log/logfmt.js'
import { ollamaLine } from '../core/parse/server-log/ollama-lines.js'

export type StepSettings = NonNullable<BenchStep['settings']>
export type StepHost = NonNullable<BenchStep['host']>
export type StepVersions = NonNullable<BenchStep['versions']>

/**
 * The KV cache type, flash attention and batch the server says it ran with,
 * from its own log: the last `server config` line (OLLAMA_KV_CACHE_TYPE empty
 * is Ollama's default, f16; OLLAMA_FLASH_ATTENTION empty is its default,
 * left unsaid) and the last `num_batch=` of its scheduler.
 */
export function settingsFromLog(log: string): Partial<StepSettings> {
  const out: Partial<StepSettings> = {}
  for (const line of log.split('\n')) {
    if (!line.includes('server config') && !line.includes('num_batch=')) continue
    const pairs = logfmt(line)
    if (!pairs) continue
    const batch = pairs.fields.get('num_batch')
    if (batch && /^\d{1,6}$/.test(batch)) out.batch = Number(batch)
    const e = ollamaLine(pairs.fields, pairs.cut)
    if (!e || !('kind' in e) || e.kind !== 'server-config') continue
    const s = (e as { settings?: Record<string, string> }).settings ?? {}
    const kv = s.OLLAMA_KV_CACHE_TYPE
    if (kv !== undefined) out.kvCacheType = kv === '' ? 'f16' : kv
    const fa = s.OLLAMA_FLASH_ATTENTION?.toLowerCase()
    if (fa === 'true' || fa === '1') out.flashAttention = true
    else if (fa === 'false' || fa === '0') out.flashAttention = false
    else delete out.flashAttention
  }
  return out
}

/** `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`: each GPU's name and memory (MiB there). */
export function parseGpus(csv: string): NonNullable<StepHost['gpus']> {
  return csv
    .split('\n')
    .map(l => l.split(',').map(f => f.trim()))
    .filter(f => f.length >= 2 && f[0] !== '' && /^\d+(\.\d+)?$/.test(f[1] as string))
    .map(f => ({ name: (f[0] as string).slice(0, 100), memTotalBytes: Math.round(Number(f[1]) * 1024 ** 2) }))
}

/** The PRETTY_NAME of /etc/os-release (`Debian GNU/Linux 12 (bookworm)`). */
export function parseOsRelease(text: string): string | undefined {
  const m = /^PRETTY_NAME=("?)(.*)\1\s*$/m.exec(text)
  return m?.[2] ? m[2].slice(0, 100) : undefined
}

/** The digest `/api/tags` lists for a model (`ollama list`'s ID), a bare name read as `:latest`. */
export function digestOf(tags: unknown, model: string): string | undefined {
  const full = model.includes(':') ? model : `${model}:latest`
  const list = (tags as { models?: { name?: unknown; model?: unknown; digest?: unknown }[] } | undefined)?.models ?? []
  const m = list.find(x => x.name === model || x.name === full || x.model === model || x.model === full)
  return typeof m?.digest === 'string' && /^(sha256:)?[0-9a-f]{12,64}$/.test(m.digest) ? m.digest : undefined
}

let hostCache: StepHost | undefined
/** This machine: CPU model and count, memory, GPUs where nvidia-smi answers, OS and kernel (read once a run). */
export function thisHost(): StepHost {
  if (hostCache) return hostCache
  const c = cpus()
  const h: StepHost = { cpus: c.length, memTotalBytes: totalmem(), os: type(), kernel: release() }
  if (c[0]?.model) h.cpuModel = c[0].model.trim().slice(0, 100)
  try {
    const name = parseOsRelease(readFileSync('/etc/os-release', 'utf8'))
    if (name) h.osName = name
  } catch {
    // not Linux, or no os-release
  }
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 3000 })
  if (smi.status === 0) {
    const g = parseGpus(smi.stdout)
    if (g.length) h.gpus = g
  }
  hostCache = h
  return h
}

/** memtrace's own version, from its package.json. */
export function memtraceVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

async function getJson(url: string): Promise<unknown> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) })
    return r.ok ? await r.json() : undefined
  } catch {
    return undefined
  }
}

/** What the server at `url` says of itself: its version, and the model's digest. */
export async function serverFacts(url: string, model: string): Promise<{ ollamaVersion?: string; modelDigest?: string }> {
  const v = (await getJson(`${url}/api/version`)) as { version?: unknown } | undefined
  const digest = digestOf(await getJson(`${url}/api/tags`), model)
  return { ...(typeof v?.version === 'string' ? { ollamaVersion: v.version.slice(0, 60) } : {}), ...(digest ? { modelDigest: digest } : {}) }
}

/**
 * Everything a result line says of how it was made: the settings (the
 * sweep's, and what the server's log says), the versions, the host.
 */
export async function stepContext(url: string, model: string, known: { numParallel?: number; numCtx: number }, log: string): Promise<Pick<BenchStep, 'settings' | 'versions' | 'host'>> {
  const f = await serverFacts(url, model)
  const settings: StepSettings = { ...(known.numParallel !== undefined ? { numParallel: known.numParallel } : {}), numCtx: known.numCtx, ...settingsFromLog(log), ...(f.modelDigest ? { modelDigest: f.modelDigest } : {}) }
  return { settings, versions: { memtrace: memtraceVersion(), ...(f.ollamaVersion ? { ollama: f.ollamaVersion } : {}) }, host: thisHost() }
}
