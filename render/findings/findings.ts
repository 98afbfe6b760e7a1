/** What happened, as numbered sentences with times, PIDs, models and figures: the most important first. Pure. */
import type { Finding, RunnerMemory } from '../../schemas/index.js'
import type { Trace } from '../../core/model/trace.js'
import { oneLine } from '../../core/safe-text.js'
import { afterLowFreeFindings } from './after-low-free.js'
import { claimFindings } from './claim.js'
import { type Ctx, type Draft, type FindingOptions, makeCtx } from './context.js'
import { gapFindings } from './gaps.js'
import { goneWhileListedFindings } from './gone-while-listed.js'
import { lowFreeFindings } from './low-free.js'
import { notGivenBackFindings } from './not-given-back.js'
import { evictionFindings, loadFailedFindings } from './decisions.js'
import { oomKillFindings, runnerKilledFindings } from './oom-kill.js'
import { predictionFindings, workingSetFindings } from './prediction.js'
import { runnerMemory } from './runner-memory.js'
import { serverMarks } from './server-marks.js'
import { orphanFindings, orphanIntervals } from './orphan.js'
import { containerLimitFindings } from './container-limit.js'
import { commitLimitFindings } from './commit-limit.js'
import { overlapFindings } from './overlap.js'
import { wiredJumpFindings } from './wired-jump.js'
import { SEVERITY, type Severity, severityOf } from './severity.js'

export type { FindingOptions }

/**
 * Within one severity (`severity.ts`, which comes first), the order of the
 * kinds: the kill before a failed load, low memory before what it cost, an
 * orphan before the overlap it makes; then time.
 */
export const RANK: readonly Finding['kind'][] = [
  'oom-kill',
  'runner-killed',
  'load-failed',
  'container-limit',
  'commit-limit',
  'low-free',
  'pressure-after-low-free',
  'working-set',
  'orphan-runner',
  'runner-overlap',
  'eviction',
  'not-given-back',
  'prediction-off',
  'claim-vs-measured',
  'runner-gone-while-listed',
  'wired-jump',
  'gap',
  'server-unanswered',
  'daemon-restart',
]

const PLAIN_TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/

/**
 * Two finding times in order. Times of the same plain form differ first in a
 * digit, where the collator's order is the digits' own: compared directly,
 * without loading the collation data. Any other form is collated as before.
 */
function byTime(a: string, b: string): number {
  if (PLAIN_TS.test(a) && PLAIN_TS.test(b)) return a < b ? -1 : a > b ? 1 : 0
  return a.localeCompare(b)
}

/** Every finding, most important first, numbered from 1. A calm trace has none. */
export function findFindings(trace: Trace, o: FindingOptions): Finding[] {
  return findingsIn(makeCtx(trace, o))
}

/** The same, for a context made once and shared with the chart's server marks and the runner records. */
export function findingsIn(ctx: Ctx): Finding[] {
  const drafts: Draft[] = [
    ...oomKillFindings(ctx),
    ...runnerKilledFindings(ctx),
    ...loadFailedFindings(ctx),
    ...evictionFindings(ctx),
    ...containerLimitFindings(ctx),
    ...commitLimitFindings(ctx),
    ...overlapFindings(ctx),
    ...lowFreeFindings(ctx),
    ...orphanFindings(ctx),
    ...goneWhileListedFindings(ctx),
    ...notGivenBackFindings(ctx),
    ...afterLowFreeFindings(ctx),
    ...workingSetFindings(ctx),
    ...predictionFindings(ctx),
    ...claimFindings(ctx),
    ...wiredJumpFindings(ctx),
    ...gapFindings(ctx),
  ]
  const rated = drafts.map(d => ({ d, severity: severityOf(ctx, d) })).filter((x): x is { d: Draft; severity: Severity } => x.severity !== undefined)
  return rated
    .sort((a, b) => SEVERITY.indexOf(a.severity) - SEVERITY.indexOf(b.severity) || RANK.indexOf(a.d.kind) - RANK.indexOf(b.d.kind) || byTime(a.d.start, b.d.start))
    .map(({ d: { record, ...rest }, severity }, i) => {
      const f: Finding = { record, n: i + 1, severity, ...rest, text: oneLine(rest.text) }
      if (rest.models) f.models = rest.models.map(oneLine)
      return f
    })
}

/** Each runner's memory three ways, for `--json` after the findings. */
export function runnerRecords(ctx: Ctx): RunnerMemory[] {
  return runnerMemory(ctx)
}

export { makeCtx, orphanIntervals, serverMarks }
