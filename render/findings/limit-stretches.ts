/**
 * Stretches of system samples where a figure sat at a share of its limit or
 * more (a container's usage against its memory limit, Windows' commit charge
 * against the commit limit), each with the sample nearest the limit and the
 * runners alive then. One mechanism for every "at its limit" finding. Pure.
 */
import type { Interval } from '../../core/model/intervals.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { type At, type Ctx, alive } from './context.js'

export interface AtLimit {
  iv: Interval & { toEnd: boolean }
  /** The sample with the highest share of the limit, and its index among the system samples. */
  peak: At & { limit: number; i: number }
  loaded: ProcSeries[]
}

/** The stretches where `field` was at `share` of `limitField` or more; a sample without the figure neither ends nor extends one. */
export function atLimit(ctx: Ctx, field: string, limitField: string, share: number): AtLimit[] {
  const { tsMs, fields } = ctx.trace.sys
  const used = fields.get(field)
  const limit = fields.get(limitField)
  if (!used || !limit) return []
  const out: AtLimit[] = []
  let cur: AtLimit | undefined
  for (let i = 0; i < tsMs.length; i++) {
    const t = tsMs[i] as number
    const u = used[i] as number
    const l = limit[i] as number
    if (l > 0 && u >= share * l) {
      const peak = { v: u, t, limit: l, i }
      if (!cur) out.push((cur = { iv: { startMs: t, endMs: t, toEnd: false }, peak, loaded: [] }))
      cur.iv.endMs = t
      if (u / l > cur.peak.v / cur.peak.limit) cur.peak = peak
    } else if (!Number.isNaN(u)) cur = undefined
  }
  const last = out[out.length - 1]
  if (last && last.iv.endMs === tsMs[tsMs.length - 1]) last.iv.toEnd = true
  for (const f of out) f.loaded = ctx.runners.filter(s => alive(s, f.peak.t))
  return out
}

/** The peak's share of its limit, in whole per cent. */
export const pctOf = (f: AtLimit) => Math.round((f.peak.v / f.peak.limit) * 100)

/** Several stretches told as one finding: the first and last, the one nearest its limit, their time in all, every runner alive at a peak. */
export function together<F extends AtLimit>(g: F[]): { first: F; last: F; worst: F; total: number; runners: ProcSeries[] } {
  return {
    first: g[0] as F,
    last: g[g.length - 1] as F,
    worst: g.reduce((a, f) => (pctOf(f) > pctOf(a) ? f : a)),
    total: g.reduce((a, f) => a + (f.iv.endMs - f.iv.startMs), 0),
    runners: [...new Set(g.flatMap(f => f.loaded))],
  }
}
