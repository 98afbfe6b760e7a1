/**
 * The system's series of `render --prometheus`, by the names the daemon
 * exports (one metric per figure, pressure as counters of stalled time),
 * and by the names of a daemon before them (`memtrace_system_memory_bytes`
 * by `kind`, pressure as averaged ratios, `ollama_*`), which are renamed
 * here so that a night recorded before an upgrade still draws. Pure.
 */
import type { Series } from './prometheus-api.js'

export const SYSTEM_NAMES = [
  'memtrace_system_memory_total_bytes',
  'memtrace_system_memory_free_bytes',
  'memtrace_system_memory_available_bytes',
  'memtrace_system_memory_wired_bytes',
  'memtrace_system_memory_compressed_bytes',
  'memtrace_swap_total_bytes',
  'memtrace_swap_used_bytes',
  'memtrace_cgroup_memory_usage_bytes',
  'memtrace_cgroup_memory_limit_bytes',
  'memtrace_system_commit_bytes',
  'memtrace_system_commit_limit_bytes',
  'memtrace_system_memory_free_ratio',
  'memtrace_memory_pressure_stalled_seconds_total',
  'memtrace_gpu_memory_used_bytes',
  'memtrace_gpu_memory_total_bytes',
  'memtrace_ollama_up',
  'memtrace_ollama_model_loaded_bytes',
  'memtrace_ollama_model_vram_bytes',
] as const
export type SystemName = (typeof SYSTEM_NAMES)[number]

/** What a daemon before the renaming exported instead; asked only when none of the new names has a series. */
export const OLD_NAMES = ['memtrace_system_memory_bytes', 'memtrace_memory_pressure_ratio', 'memtrace_gpu_memory_bytes', 'ollama_up', 'ollama_model_size_bytes', 'ollama_model_vram_bytes'] as const
export type OldName = (typeof OLD_NAMES)[number]

/** The old `memtrace_system_memory_bytes` kinds, by the metric each is now. */
const OLD_KINDS: Partial<Record<SystemName, string[]>> = {
  memtrace_system_memory_total_bytes: ['total'],
  memtrace_system_memory_free_bytes: ['free', 'free_pages'],
  memtrace_system_memory_available_bytes: ['available'],
  memtrace_system_memory_wired_bytes: ['wired'],
  memtrace_system_memory_compressed_bytes: ['compressor'],
  memtrace_swap_total_bytes: ['swap_total'],
  memtrace_swap_used_bytes: ['swap_used'],
  memtrace_cgroup_memory_usage_bytes: ['container_usage'],
  memtrace_cgroup_memory_limit_bytes: ['container_limit'],
}

/** The series of a daemon before the renaming, under the new names (the label that told the figures apart taken off). */
export function renamed(q: Record<SystemName, Series[]>, old: Record<OldName, Series[]>): void {
  const without = (s: Series, label: string): Series => {
    const { [label]: _gone, ...metric } = s.metric
    return { ...s, metric }
  }
  for (const [name, kinds] of Object.entries(OLD_KINDS) as [SystemName, string[]][]) q[name] = old.memtrace_system_memory_bytes.filter(s => kinds.includes(s.metric.kind ?? '')).map(s => without(s, 'kind'))
  q.memtrace_gpu_memory_used_bytes = old.memtrace_gpu_memory_bytes.filter(s => s.metric.kind === 'used').map(s => without(s, 'kind'))
  q.memtrace_gpu_memory_total_bytes = old.memtrace_gpu_memory_bytes.filter(s => s.metric.kind === 'total').map(s => without(s, 'kind'))
  q.memtrace_ollama_up = old.ollama_up
  q.memtrace_ollama_model_loaded_bytes = old.ollama_model_size_bytes
  q.memtrace_ollama_model_vram_bytes = old.ollama_model_vram_bytes
}

const WINDOWS_S = [10, 60, 300] as const

/**
 * The PSI lines (`some avg10=… avg60=… avg300=… total=…`) of the system at `t`: from the daemon's counters of
 * stalled time, each average the share of time stalled over the last 10, 60 and 300 s of points (fewer at the
 * start of the window); from an older daemon's ratios, as it exported them. None at a point with no earlier one
 * to take a rate from, nor where the counter went down (a reset): no figure is made up there.
 */
export function psiLines(stalled: Series[], oldRatios: Series[]): (t: number) => string {
  const counters = (['some', 'full'] as const).map(kind => {
    const s = stalled.find(x => x.metric.scope === 'system' && x.metric.kind === kind)
    return { kind, ts: s?.ts ?? [], values: s?.values ?? [] }
  })
  const ratio = (kind: string, window: string) => {
    const s = oldRatios.find(x => x.metric.kind === kind && x.metric.window === window)
    return new Map(s ? s.ts.map((t, i) => [t, s.values[i] as number]) : [])
  }
  const old = (['some', 'full'] as const).map(kind => ({ kind, w: ['avg10', 'avg60', 'avg300'].map(w => ratio(kind, w)) }))
  return t => {
    let out = ''
    for (const c of counters) {
      const i = c.ts.indexOf(t)
      if (i <= 0) continue
      const now = c.values[i] as number
      const avgs = WINDOWS_S.map(w => {
        let j = i
        while (j > 0 && (c.ts[j - 1] as number) >= t - w * 1000) j--
        if (j === i) j = i - 1
        const dt = (t - (c.ts[j] as number)) / 1000
        const grew = now - (c.values[j] as number)
        return grew >= 0 && dt > 0 ? Math.min(100, (grew / dt) * 100) : undefined
      })
      if (avgs.every(a => a !== undefined)) out += `${c.kind} avg10=${(avgs[0] as number).toFixed(2)} avg60=${(avgs[1] as number).toFixed(2)} avg300=${(avgs[2] as number).toFixed(2)} total=${Math.round(now * 1e6)}\n`
    }
    for (const { kind, w } of old) {
      const [a10, a60, a300] = w.map(m => m.get(t))
      if (a10 !== undefined && a60 !== undefined && a300 !== undefined) out += `${kind} avg10=${(a10 * 100).toFixed(2)} avg60=${(a60 * 100).toFixed(2)} avg300=${(a300 * 100).toFixed(2)} total=0\n`
    }
    return out
  }
}
