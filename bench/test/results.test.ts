/** What the results tables say beside the rows: a busy host, an interruption, a cliff the spread hides, memory not given back. */
import t from 'tap'
import type { BenchStep } from '../../schemas/index.js'
import { markdown, markdownModels, markdownParallel } from '../results.js'
import { parallelVerdict } from '../rules.js'

const settings = { model: 'qwen2.5-coder:7b', numCtx: 32768, requests: 5, warmup: 1, cooldownMs: 3000, seed: 42, temperature: 0 }
const step = (experiment: BenchStep['experiment'], n: number, more: Partial<BenchStep>): BenchStep => ({ record: 'bench-step', experiment, step: n, model: settings.model, outcome: 'ok', startedAt: '2026-12-03T21:00:00Z', endedAt: '2026-12-03T21:01:00Z', requests: 5, ...more })

t.test('an NP sweep with phases: the test under the table, the cause and the first page-outs', async t => {
  const steps = [
    step('num-parallel', 1, { genTps: 21.1, genTpsSd: 0.2, phase: 'flat', pageOuts: 0 }),
    step('num-parallel', 2, { genTps: 17.2, genTpsSd: 0.3, phase: 'cliff', cause: 'memory', pageOuts: 6 }),
    step('num-parallel', 3, { genTps: 17.0, genTpsSd: 0.3, phase: 'stabilized', cause: 'memory', pageOuts: 42 }),
  ]
  const md = markdown(steps, settings, {})
  t.match(md, /^Phases: flat 1, cliff 2, stabilized 3 \(a difference counts only when the two means lie further apart than their two standard deviations together\)\.$/m)
  t.match(md, /^Cause: memory \(one request at a time holds compute constant\); first page-outs at NP 2\.$/m)
})

t.test('a busy host: nothing named, and the steps and figures that made it busy', async t => {
  const steps = [step('num-parallel', 1, { genTps: 20, genTpsSd: 1, otherCpuPctBefore: 4, otherCpuPct: 6 }), step('num-parallel', 2, { genTps: 12, genTpsSd: 1, otherCpuPctBefore: 31, otherCpuPct: 52 })]
  const md = markdown(steps, settings, {})
  t.match(md, /^Phases: none named: the host was busy \(other processes used 52 % of the CPU at NP 2; the rules name nothing unless others used 25 % or less before and during every step\)\.$/m)
  t.match(md, /\| 4 \/ 6 % \|/, 'before / during, per step')
  t.notMatch(md, /^Cause:/m)
})

t.test('an interrupted sweep says so at the top and names nothing', async t => {
  const steps = [step('num-parallel', 1, { genTps: 20, genTpsSd: 1 }), step('num-parallel', 2, { genTps: 20, genTpsSd: 1 })]
  const md = markdown(steps, settings, {}, { signal: 'SIGINT', steps: 2 })
  t.match(md, /^\*\*Interrupted\*\* \(SIGINT\) after 2 finished steps: /m)
  t.notMatch(md, /^Phases:/m)
  t.match(markdownParallel(steps.map(s => ({ ...s, experiment: 'parallel' as const })), settings, undefined, undefined, { signal: 'SIGTERM', steps: 2 }), /^\*\*Interrupted\*\* \(SIGTERM\) after 2 finished steps/m)
  t.match(markdownModels([step('models', 1, {})], { ...settings, order: 'size' }, { signal: 'SIGINT', steps: 1 }), /^\*\*Interrupted\*\* \(SIGINT\) after 1 finished step: /m)
})

t.test('a concurrency sweep whose cliff the spread hides says from where, and names no P', async t => {
  const steps = [
    step('parallel', 1, { genTps: 30, genTpsSd: 6 }),
    step('parallel', 2, { genTps: 23.0, genTpsSd: 0 }),
    step('parallel', 3, { genTps: 15.6, genTpsSd: 0 }),
    step('parallel', 4, { genTps: 11.8, genTpsSd: 0 }),
  ]
  const v = parallelVerdict(steps.map(s => ({ step: s.step, gen: { mean: s.genTps as number, sd: s.genTpsSd ?? 0 } })))
  const md = markdownParallel(steps, settings, undefined, v)
  t.match(md, /^No cliff named: from P=3 per-request speed may be under half of P=1's, but the spread cannot tell where it falls under \(P=4 surely is\);/m)
})

t.test("P=1's throughput in all as the baseline is said, with the reading it replaced", async t => {
  const steps = [step('parallel', 1, { genTps: 30, totalTps: 36.1, verdict: [] }), step('parallel', 2, { genTps: 23, totalTps: 43.3 }), step('parallel', 3, { genTps: 15.6, totalTps: 44.5, verdict: ['cliff', 'peak', 'knee'], cause: 'compute' })]
  const v = parallelVerdict(steps.map(s => ({ step: s.step, gen: { mean: s.genTps as number }, total: { mean: s.totalTps as number } })))
  t.match(markdownParallel(steps, settings, undefined, v), /^Cliff at P=3 \(per-request speed under half of P=1's \(P=1's 36\.1 t\/s in all: one request cannot generate slower than its throughput in all, so its lower per-request reading, 30\.0, is noise\), beyond the spread\); throughput peak at P=3; knee at P=3/m)
})

t.test('bench models: a restart before a model and memory not given back are in the table', async t => {
  const steps = [
    step('models', 1, { model: 'small:1b', memBeforeBytes: 2 * 2 ** 30, memAfterBytes: 2 * 2 ** 30 + 100 * 2 ** 20, notGivenBackBytes: 100 * 2 ** 20, notGivenBack: false }),
    step('models', 2, { model: 'big:70b', memBeforeBytes: 2 * 2 ** 30, memAfterBytes: 3 * 2 ** 30, notGivenBackBytes: 2 ** 30, notGivenBack: true, restarted: true }),
  ]
  const md = markdownModels(steps, { ...settings, order: 'size' })
  t.match(md, /\| \+1\.00 GiB ⚠ \|/)
  t.match(md, /\| \+100 MiB \|/, 'under the threshold: not flagged')
  t.match(md, /\(a fresh server first: the plan said it would not fit\) \|$/m)
  t.match(md, /^⚠ Not given back: big:70b \(1\.00 GiB\): more than 256 MiB more in use once the model was unloaded/m)
})
