/**
 * Why two runs of the same step may differ before anything changed in the
 * software: a setting that was not the same, another host, a busier host,
 * a step with no spread to judge by, a step that failed. Pure.
 */
import type { BenchStep } from '../schemas/index.js'
import { gibOrMib as gib } from '../core/units.js'
import { BUSY_PCT } from './rules.js'

type Settings = NonNullable<BenchStep['settings']>
type Host = NonNullable<BenchStep['host']>

const SETTING_NAMES: [keyof Settings, string][] = [
  ['numParallel', 'NUM_PARALLEL'],
  ['numCtx', 'num_ctx'],
  ['kvCacheType', 'KV cache'],
  ['flashAttention', 'flash attention'],
  ['batch', 'batch'],
  ['modelDigest', 'model digest'],
]

const show = (v: unknown): string => (typeof v === 'boolean' ? (v ? 'on' : 'off') : typeof v === 'string' && /^(sha256:)?[0-9a-f]{13,}$/.test(v) ? v.replace('sha256:', '').slice(0, 12) : String(v))

/** The settings that differ between two steps, named (`num_ctx 4096 → 8192`); a setting only one side recorded is no change. */
export function changedSettings(a: BenchStep, b: BenchStep): string[] {
  const out: string[] = []
  if (a.model !== b.model) out.push(`model ${a.model} → ${b.model}`)
  for (const [k, name] of SETTING_NAMES) {
    const x = a.settings?.[k]
    const y = b.settings?.[k]
    if (x !== undefined && y !== undefined && x !== y) out.push(`${name} ${show(x)} → ${show(y)}`)
  }
  return out
}

const gpus = (h: Host) => (h.gpus ?? []).map(g => `${g.name}${g.memTotalBytes !== undefined ? ` ${gib(g.memTotalBytes)}` : ''}`).join(' + ') || 'no GPU'

/** What differs between two hosts (CPU, CPUs, memory, GPUs, OS, kernel); nothing when either did not record it. */
export function changedHost(a: Host | undefined, b: Host | undefined): string[] {
  if (!a || !b) return []
  const out: string[] = []
  const pair = (name: string, x: unknown, y: unknown, f: (v: never) => string = show) => x !== undefined && y !== undefined && x !== y && out.push(`${name} ${f(x as never)} → ${f(y as never)}`)
  pair('CPU', a.cpuModel, b.cpuModel)
  pair('CPUs', a.cpus, b.cpus)
  pair('memory', a.memTotalBytes, b.memTotalBytes, (v: number) => gib(v))
  if ((a.gpus || b.gpus) && gpus(a) !== gpus(b)) out.push(`GPU ${gpus(a)} → ${gpus(b)}`)
  pair('OS', a.osName ?? a.os, b.osName ?? b.os)
  pair('kernel', a.kernel, b.kernel)
  return out
}

/** The most CPU others used around a step (before or during), when measured. */
export function otherCpu(s: BenchStep): number | undefined {
  if (s.otherCpuPct === undefined && s.otherCpuPctBefore === undefined) return undefined
  return Math.max(s.otherCpuPct ?? 0, s.otherCpuPctBefore ?? 0)
}

/** A step measured on a busy host: others used more than the rules allow (25 %) before or during it. */
export const busy = (s: BenchStep): boolean => (otherCpu(s) ?? 0) > BUSY_PCT

/** A step that ran no request to the end: it did not load, or no request answered. */
export const failedStep = (s: BenchStep): boolean => s.genTps === undefined && s.outcome !== 'ok'

/** Why a row's differences are not called changes, as the comparison reads them. */
export interface Why {
  /** Settings or host that differ: every difference of the row is theirs. */
  setting: string[]
  /** Either run was busy: speeds and TTFT are not judged (memory still is). */
  load?: string
  /** One request a step on either side: no spread, so per-request speeds and TTFT are not judged. */
  single: boolean
  /** A run whose step failed, and how. */
  failed?: string
  /** Both runs' steps failed. */
  failedBoth?: boolean
}

export function why(a: BenchStep, b: BenchStep): Why {
  const w: Why = { setting: [...changedSettings(a, b), ...changedHost(a.host, b.host).map(h => `host: ${h}`)], single: a.requests === 1 || b.requests === 1 }
  if (busy(a) || busy(b)) w.load = `other CPU ${otherCpu(a)?.toFixed(0) ?? '–'} → ${otherCpu(b)?.toFixed(0) ?? '–'} %`
  const f = [failedStep(a) ? `A ${a.outcome}` : '', failedStep(b) ? `B ${b.outcome}` : ''].filter(Boolean)
  if (f.length) w.failed = f.join('; ')
  if (f.length === 2) w.failedBoth = true
  return w
}
