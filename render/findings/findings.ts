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
import { orphanFindings } from './orphan.js'
import { overlapFindings } from './overlap.js'
import { wiredJumpFindings } from './wired-jump.js'

export type { FindingOptions }

/**
 * The order a maintainer reads them in: the harm first (a process the OOM
 * killer killed), then runners alive together and low free
 * memory, then memory not given back (orphans, listings without a runner,
 * free memory, compressor and swap), then Ollama's figures against the
 * measured ones and what a load cost, then gaps and server trouble.
 */
export const RANK: readonly Finding['kind'][] = [
  'oom-kill',
  'runner-killed',
  'load-failed',
  'eviction',
  'runner-overlap',
  'low-free',
  'orphan-runner',
  'runner-gone-while-listed',
  'not-given-back',
  'pressure-after-low-free',
  'working-set',
  'prediction-off',
  'claim-vs-measured',
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
  return drafts
    .sort((a, b) => RANK.indexOf(a.kind) - RANK.indexOf(b.kind) || byTime(a.start, b.start))
    .map(({ record, ...rest }, i) => {
      const f: Finding = { record, n: i + 1, ...rest, text: oneLine(rest.text) }
      if (rest.models) f.models = rest.models.map(oneLine)
      return f
    })
}

/** Each runner's memory three ways, for `--json` after the findings. */
export function runnerRecords(ctx: Ctx): RunnerMemory[] {
  return runnerMemory(ctx)
}

export { makeCtx, serverMarks }
