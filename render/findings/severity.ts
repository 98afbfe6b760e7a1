/**
 * How much harm a finding tells of: one order for all findings, so the
 * first answers "why was it slow, or killed". Pure.
 */
import type { Finding } from '../../schemas/index.js'
import type { Interval } from '../../core/model/intervals.js'
import { type Ctx, type Draft, extreme, GIB, valueBefore } from './context.js'
import { commitFullDuring } from './commit-limit.js'

/** Most harmful first; `docs/render.md` says what puts a finding in each. */
export const SEVERITY = ['killed', 'exhausted', 'short', 'not-given-back', 'estimate', 'other'] as const
export type Severity = Finding['severity']

/** Swap, the compressor or pages written out growing by this much while free memory was low: memory ran out, not just low. */
export const EXHAUSTED_GROWTH_BYTES = 0.5 * GIB
/** A container whose usage reached this share of its limit was at its limit. */
export const CGROUP_FULL_SHARE = 0.95
/** A GPU with less than this share of its memory free had no room for another model's layers. */
export const GPU_SHORT_PCT = 10

/** Memory that ran out during `iv`: swap, the compressor or page-outs (macOS) grew, or a container reached its limit. */
export function exhaustedDuring(ctx: Ctx, iv: Interval): boolean {
  for (const name of ['swap-used', 'compressor', 'paged-out']) {
    const before = valueBefore(ctx, name, iv.startMs) ?? extreme(ctx.trace, name, iv.startMs, iv.startMs, 'min')
    const peak = extreme(ctx.trace, name, iv.startMs, iv.endMs, 'max')
    if (before && peak && peak.v - before.v >= EXHAUSTED_GROWTH_BYTES) return true
  }
  return cgroupFullDuring(ctx, iv) || commitFullDuring(ctx, iv)
}

function cgroupFullDuring(ctx: Ctx, iv: Interval): boolean {
  const { tsMs, fields } = ctx.trace.sys
  const usage = fields.get('cgroup-usage')
  const limit = fields.get('cgroup-limit')
  if (!usage || !limit) return false
  for (let i = 0; i < tsMs.length; i++) {
    const t = tsMs[i] as number
    if (t < iv.startMs || t > iv.endMs) continue
    const u = usage[i] as number
    const l = limit[i] as number
    if (l > 0 && u >= CGROUP_FULL_SHARE * l) return true
  }
  return false
}

/**
 * Memory short at some sample inside `iv`: free (available) memory under the
 * threshold or a container at its limit; with `gpu`, also a GPU with under
 * GPU_SHORT_PCT of its memory free (an orphan's GPU memory squeezes the next
 * model onto the CPU; two listed models filling a GPU is Ollama packing it).
 */
export function shortDuring(ctx: Ctx, iv: Interval, gpu: boolean): boolean {
  const free = extreme(ctx.trace, 'free-pct', iv.startMs, iv.endMs, 'min')
  if (free && free.v < ctx.lowFreePct) return true
  if (cgroupFullDuring(ctx, iv)) return true
  return gpu && gpuShortDuring(ctx, iv)
}

function gpuShortDuring(ctx: Ctx, iv: Interval): boolean {
  const { tsMs, fields } = ctx.trace.sys
  for (const [name, used] of fields) {
    if (!name.startsWith('gpu-used:')) continue
    const total = fields.get(`gpu-total:${name.slice('gpu-used:'.length)}`)
    if (!total) continue
    for (let i = 0; i < tsMs.length; i++) {
      const t = tsMs[i] as number
      if (t < iv.startMs || t > iv.endMs) continue
      const u = used[i] as number
      const tot = total[i] as number
      if (tot > 0 && ((tot - u) / tot) * 100 < GPU_SHORT_PCT) return true
    }
  }
  return false
}

const span = (d: Draft): Interval => ({ startMs: Date.parse(d.start), endMs: Date.parse(d.end ?? d.start) })

/**
 * The finding's place in the order; undefined for one that is no headline
 * (an overlap during which memory stayed ample: the report lists it).
 */
export function severityOf(ctx: Ctx, d: Draft): Severity | undefined {
  switch (d.kind) {
    case 'oom-kill':
    case 'runner-killed':
    case 'load-failed':
      return 'killed'
    case 'pressure-after-low-free':
    case 'working-set':
    case 'container-limit':
    case 'commit-limit':
      return 'exhausted'
    case 'low-free':
      return exhaustedDuring(ctx, span(d)) ? 'exhausted' : 'short'
    case 'eviction':
      return 'short'
    case 'runner-overlap':
      // A grouped line spans time between its overlaps: its free figure is from inside them only.
      return (d.figures?.freePct ?? 100) < ctx.lowFreePct || cgroupFullDuring(ctx, span(d)) || commitFullDuring(ctx, span(d)) ? 'short' : undefined
    case 'orphan-runner':
      return shortDuring(ctx, span(d), true) ? 'short' : 'not-given-back'
    case 'not-given-back':
      return 'not-given-back'
    case 'prediction-off':
    case 'claim-vs-measured':
      return 'estimate'
    default:
      return 'other'
  }
}
