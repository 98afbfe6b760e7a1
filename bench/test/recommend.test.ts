import t from 'tap'
import type { BenchStep } from '../../schemas/index.js'
import { phases } from '../rules.js'
import { type PlannedMax, recommendation } from '../recommend.js'

const GIB = 1024 ** 3
/** Seed 000's speeds as printed (qwen2.5-coder:7b at 32k on a 32 GB Mac mini), NP 1–15; its own answer was NP 8. */
const SEED_000_GEN = [21.1, 21.1, 21.0, 21.0, 20.9, 22.2, 22.3, 20.2, 18.7, 17.2, 15.6, 14.3, 14.4, 14.4, 14.4]
const line = (np: number, gen: number | undefined): BenchStep => ({
  record: 'bench-step', experiment: 'num-parallel', step: np, model: 'qwen2.5-coder:7b', outcome: gen === undefined ? 'did not load: model requires more system memory' : 'ok',
  startedAt: '2026-11-23T06:00:00Z', endedAt: '2026-11-23T06:01:00Z', requests: gen === undefined ? 0 : 5, ...(gen !== undefined ? { genTps: gen } : {}),
})
/** The rules as the sweep applies them: phases over the steps that ran. */
function named(gens: (number | undefined)[]): BenchStep[] {
  const steps = gens.map((g, i) => line(i + 1, g))
  const ran = steps.filter(s => s.genTps !== undefined)
  const p = phases(ran.map(s => ({ mean: s.genTps as number })))
  ran.forEach((s, i) => (s.phase = p[i]))
  return steps
}
// `memtrace plan qwen2.5-coder:7b --num-ctx 32768 --memory 32GiB --os-reserve 8GiB` (docs/bench.md's table: 11 slots, f16).
const PLAN_32: PlannedMax = { maxParallel: 11, numCtx: 32768, kvType: 'f16', flashAttention: true, memTotalBytes: 32 * GIB, inUseBytes: 8 * GIB }

t.test("seed 000's table: NUM_PARALLEL=8, as the seed found, beside the plan's 11", async t => {
  const r = recommendation(named(SEED_000_GEN), PLAN_32, '')
  t.match(r, /^Recommendation: NUM_PARALLEL=8, the largest that stayed flat on this machine; from NP 9 it slowed beyond the spread\./)
  t.match(r, /`memtrace plan` says up to 11 slots fit at 32768 context \(KV cache f16, flash attention on, beside the 8\.00 GiB in use now of 32\.00 GiB\): the plan is the ceiling/)
})

t.test('no phase named (a busy host): no recommendation, and why', async t => {
  const steps = SEED_000_GEN.map((g, i) => line(i + 1, g))
  const r = recommendation(steps, PLAN_32, 'the host was busy (other processes used 96 % of the CPU at NP 1)')
  t.match(r, /^Recommendation: none: the host was busy \(other processes used 96 % of the CPU at NP 1\)\. `memtrace plan` says up to 11/)
  t.notMatch(r, /NUM_PARALLEL=\d/)
  t.match(recommendation(steps, undefined, ''), /^Recommendation: none: the rules named no phase\. `memtrace plan` could not say/)
})

t.test('every step flat: the largest tried, and the sweep said to have stopped short', async t => {
  const r = recommendation(named([60.2, 59.8, 61.0, 60.5]), { ...PLAN_32, maxParallel: 2 }, '')
  t.match(r, /NUM_PARALLEL=4, the largest that stayed flat on this machine: every step stayed flat, so the sweep did not reach a slowdown/)
  t.match(r, /up to 2 slots fit .*: fewer than stayed flat/)
})

t.test('a step that did not load ends what can be recommended', async t => {
  const r = recommendation(named([21.1, 21.0, 20.9, undefined, 21.0]), PLAN_32, '')
  t.match(r, /NUM_PARALLEL=3, the largest that stayed flat on this machine; NP 4 did not run\./)
})

t.test('the table says once what its lines record of how they were made', async t => {
  const { madeWith } = await import('../results.js')
  const steps = named([21.1, 21.0]).map(s => ({
    ...s,
    settings: { numParallel: s.step, numCtx: 32768, kvCacheType: 'q8_0', flashAttention: true, batch: 512 },
    versions: { ollama: '0.11.4', memtrace: '0.1.0' },
    host: { cpuModel: 'Apple M2 Pro', cpus: 12, memTotalBytes: 32 * GIB, os: 'Darwin', kernel: '24.1.0' },
  }))
  t.equal(madeWith(steps), 'Made with Ollama 0.11.4 (memtrace 0.1.0) on Darwin, kernel 24.1.0, 12 × Apple M2 Pro, 32.00 GiB; KV cache q8\\_0, flash attention on, batch 512.')
  t.equal(madeWith(named([21.1])), '', 'lines written before they carried it: nothing said')
})
