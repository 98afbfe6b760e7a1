/** A process's own GPU memory, from nvidia-smi's process rows or Windows' GPU counters, and the devices' use over an interval. Pure. */
import type { Trace } from '../../core/model/trace.js'
import type { At, Ctx } from './context.js'
import { lowerBound } from './lookup.js'

/** Who gave `pid`'s own GPU memory at `t` (the time of the figure a finding quotes), as the finding names it. */
export function gpuSourceOf(trace: Trace, pid: number, t: number): string {
  const g = trace.gpuByPid.get(pid)
  const i = g ? lowerBound(g.tsMs, t) : -1
  return g?.from[Math.min(i, g.from.length - 1)] === 'gpu-counters' ? "Windows' GPU counters" : 'nvidia-smi'
}

/** The most Shared Usage (system RAM the GPU maps) the counters gave `pid` with from ≤ t ≤ to (the earliest of equal ones). */
export function sharedPeak(trace: Trace, pid: number, from: number, to: number): At | undefined {
  const g = trace.gpuByPid.get(pid)
  if (!g) return undefined
  let peak: At | undefined
  for (let i = lowerBound(g.tsMs, from); i < g.tsMs.length && (g.tsMs[i] as number) <= to; i++) {
    const v = g.shared[i] as number
    if (!Number.isNaN(v) && (!peak || v > peak.v)) peak = { v, t: g.tsMs[i] as number }
  }
  return peak
}

/** The most GPU memory the process rows gave `pid` with from ≤ t ≤ to (the earliest of equal ones). */
export function ownGpu(ctx: Ctx, pid: number, from: number, to: number): At | undefined {
  const g = ctx.trace.gpuByPid.get(pid)
  if (!g) return undefined
  let own: At | undefined
  for (let i = lowerBound(g.tsMs, from); i < g.tsMs.length && (g.tsMs[i] as number) <= to; i++) {
    const v = g.bytes[i] as number
    if (!own || v > own.v) own = { v, t: g.tsMs[i] as number }
  }
  return own
}

/** GPU memory in use at system sample `i`, all GPUs together; undefined where no GPU gave a figure. */
export function gpuTotalAt(ctx: Ctx, i: number): number | undefined {
  let sum: number | undefined
  for (const [name, col] of ctx.trace.sys.fields) {
    if (!name.startsWith('gpu-used:')) continue
    const v = col[i] as number
    if (!Number.isNaN(v)) sum = (sum ?? 0) + v
  }
  return sum
}

/** The highest GPU memory in use, all GPUs together, at a system sample with from ≤ t ≤ to. */
export function gpuPeak(ctx: Ctx, from: number, to: number): At | undefined {
  const ts = ctx.trace.sys.tsMs
  let peak: At | undefined
  for (let i = lowerBound(ts, from); i < ts.length && (ts[i] as number) <= to; i++) {
    const v = gpuTotalAt(ctx, i)
    if (v !== undefined && (!peak || v > peak.v)) peak = { v, t: ts[i] as number }
  }
  return peak
}

/** The least GPU memory free, all GPUs together, at a system sample with from ≤ t ≤ to; with the total then. */
export function gpuLeastFree(ctx: Ctx, from: number, to: number): (At & { total: number }) | undefined {
  const { tsMs, fields } = ctx.trace.sys
  let least: (At & { total: number }) | undefined
  for (let i = lowerBound(tsMs, from); i < tsMs.length && (tsMs[i] as number) <= to; i++) {
    let used = 0
    let total = 0
    for (const [name, col] of fields) {
      if (!name.startsWith('gpu-used:')) continue
      const u = col[i] as number
      const tot = fields.get(`gpu-total:${name.slice('gpu-used:'.length)}`)?.[i] as number
      if (Number.isNaN(u) || tot === undefined || Number.isNaN(tot)) continue
      used += u
      total += tot
    }
    if (total > 0 && (!least || total - used < least.v)) least = { v: total - used, t: tsMs[i] as number, total }
  }
  return least
}
