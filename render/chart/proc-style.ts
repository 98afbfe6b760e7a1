/** How each process line looks, and the top panel's legend grouped by model. */
import type { ProcSeries, Trace } from '../../core/model/trace.js'
import { shortName } from '../../core/model/roles.js'
import type { LegendItem } from './legend.js'
import { RUNNER_DASHES, type Theme } from './style.js'

export interface ProcStyle {
  color: string
  dash?: string
  width: number
}

/** The name a runner is grouped by: its model, else its weights blob. */
export function modelKey(s: ProcSeries): string {
  return s.model ?? s.blob ?? 'unknown model'
}

/** Models in order of their first runner. */
export function modelsInOrder(trace: Trace): string[] {
  return [...new Set(trace.procs.filter(s => s.role === 'runner').map(modelKey))]
}

/**
 * One colour per model, shared by all its runners; runners of one model
 * differ by dash, in order of start. Other roles are neutral greys.
 */
export function procStyles(trace: Trace, th: Theme): ProcStyle[] {
  const models = modelsInOrder(trace)
  const seen = new Map<string, number>()
  return trace.procs.map(s => {
    if (s.role === 'server') return { color: th.server, width: 1.5 }
    if (s.role === 'discovery') return { color: th.discovery, width: 1.5 }
    if (s.role !== 'runner') return { color: th.other, dash: '1 3', width: 1.5 }
    const key = modelKey(s)
    const k = seen.get(key) ?? 0
    seen.set(key, k + 1)
    const color = th.models[models.indexOf(key) % th.models.length] as string
    const dash = RUNNER_DASHES[k % RUNNER_DASHES.length]
    return dash ? { color, dash, width: 2 } : { color, width: 2 }
  })
}

/**
 * The top legend: one row per model (`qwen2.5-coder:7b × 15 runners`), then
 * servers, discovery and other processes. Past three servers or discovery
 * processes (restarts), one row stands for the role. A process seen in a
 * single sample (an `ollama ps` call) is drawn but gets no row of its own.
 */
export function processLegend(trace: Trace, styles: ProcStyle[]): LegendItem[] {
  const items: LegendItem[] = []
  // Each model's first runner and count, in one pass (models in order of their first runner).
  const byModel = new Map<string, { first: ProcSeries; i: number; n: number }>()
  trace.procs.forEach((s, i) => {
    if (s.role !== 'runner') return
    // With several servers on the host, a model's runners are told apart by server (`llama3.2:3b on :11435`).
    const key = s.server ? `${modelKey(s)} on ${s.server}` : modelKey(s)
    const m = byModel.get(key)
    if (m) m.n++
    else byModel.set(key, { first: s, i, n: 1 })
  })
  for (const [key, { first, i, n }] of byModel) {
    const st = styles[i] as ProcStyle
    const label = n === 1 ? `${key} · runner pid ${first.pid}` : `${key} × ${n} runners`
    items.push({ label, color: st.color })
  }
  const byRole = { server: [] as { s: ProcSeries; i: number }[], discovery: [] as { s: ProcSeries; i: number }[], other: [] as { s: ProcSeries; i: number }[] }
  trace.procs.forEach((s, i) => {
    if ((s.role === 'server' || s.role === 'discovery' || s.role === 'other') && s.tsMs.length > 1) byRole[s.role].push({ s, i })
  })
  for (const role of ['server', 'discovery', 'other'] as const) {
    const all = byRole[role]
    if (all.length === 0) continue
    const st = styles[(all[0] as { i: number }).i] as ProcStyle
    if (role !== 'other' && all.length > 3) {
      items.push({ label: `${role} · ${all.length} processes`, color: st.color })
      continue
    }
    for (const { s } of all) {
      // PID 0: not known (a chart drawn from Prometheus, which keeps the runners' PIDs only).
      const label = role === 'other' ? `${shortName(s.comm, s.command)} · pid ${s.pid}` : s.pid > 0 ? `${role}${s.server ? ` ${s.server}` : ''} · pid ${s.pid}` : role
      items.push(st.dash ? { label, color: st.color, dash: st.dash } : { label, color: st.color })
    }
  }
  return items
}
