/**
 * The end of a `NUM_PARALLEL` sweep: the largest NUM_PARALLEL that stayed
 * flat on this machine, set beside the most slots `memtrace plan` says fit.
 * Pure: the plan's figure is given.
 */
import type { BenchStep } from '../schemas/index.js'
import { gibOrMib as gib } from '../core/units.js'

/** What `plan` said for the same model and context on this machine. */
export interface PlannedMax {
  maxParallel: number
  /** The longest context (a power of two) that fits with one slot. */
  maxContext?: number
  numCtx: number
  kvType: string
  flashAttention: boolean
  memTotalBytes: number
  /** What was in use when it was asked (the sweep's server stopped). */
  inUseBytes: number
}

/** The largest flat step below the first step that did not run; undefined when the rules named no phase. */
export function largestFlat(steps: BenchStep[]): { np: number; allFlat: boolean; failedAt?: number } | undefined {
  if (!steps.some(s => s.phase !== undefined)) return undefined
  const failedAt = steps.find(s => s.genTps === undefined)?.step
  const flat = steps.filter(s => s.phase === 'flat' && (failedAt === undefined || s.step < failedAt))
  const last = flat[flat.length - 1]
  if (!last) return undefined
  const ran = steps.filter(s => s.genTps !== undefined)
  return { np: last.step, allFlat: ran.every(s => s.phase === 'flat'), ...(failedAt !== undefined ? { failedAt } : {}) }
}

/** The recommendation line under the table: of NUM_PARALLEL (num-parallel) or of the context (num-ctx). */
export function recommendation(steps: BenchStep[], planned: PlannedMax | undefined, why: string, kind: 'num-parallel' | 'num-ctx' = 'num-parallel'): string {
  const ctx = kind === 'num-ctx'
  const unit = ctx ? 'num_ctx' : 'NP'
  const best = largestFlat(steps)
  const said = planned ? `KV cache ${planned.kvType}, flash attention ${planned.flashAttention ? 'on' : 'off'}, beside the ${gib(planned.inUseBytes)} in use now of ${gib(planned.memTotalBytes)}` : ''
  const planMax = planned ? (ctx ? (planned.maxContext ?? 0) : planned.maxParallel) : 0
  const plan = !planned
    ? '`memtrace plan` could not say (no manifest of the model here)'
    : ctx
      ? `\`memtrace plan\` says ${planMax > 0 ? `the longest context that fits with one slot is ${planMax}` : 'no context of 2048 or more fits with one slot'} (${said})`
      : `\`memtrace plan\` says ${planMax > 0 ? `up to ${planMax} slot${planMax === 1 ? '' : 's'} fit` : 'not one slot fits'} at ${planned.numCtx} context (${said})`
  if (!best) return `Recommendation: none: ${why || 'the rules named no phase'}. ${plan}.`
  const reach = best.failedAt !== undefined ? `; ${unit} ${best.failedAt} did not run` : best.allFlat ? `: every step stayed flat, so the sweep did not reach a slowdown (a larger ${ctx ? '--max-ctx' : '--max-np'} may)` : `; from ${unit} ${steps.find(s => s.phase !== undefined && s.phase !== 'flat')?.step ?? '?'} it slowed beyond the spread`
  const versus = planMax > 0 ? (planMax > best.np ? ': the plan is the ceiling of memory, the sweep where this machine slows down first' : planMax < best.np ? `: ${ctx ? 'shorter than' : 'fewer than'} what stayed flat (the plan reserves the whole KV cache; a runner touches only what it uses)` : ': the two agree') : ''
  return `Recommendation: ${ctx ? `num_ctx ${best.np}, the longest` : `NUM_PARALLEL=${best.np}, the largest`} that stayed flat on this machine${reach}. ${plan}${versus}.`
}
