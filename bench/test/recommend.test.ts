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
  t.match(r, /up to 2 slots fit .*: fewer than what stayed flat/)
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

t.test('a context sweep: the longest context that stayed flat, beside the longest plan says fits with one slot', async t => {
  const steps = named([30.1, 29.8, 30.3, 24.0, 23.8]).map((s, i) => ({ ...s, experiment: 'num-ctx' as const, step: 2048 * 2 ** i }))
  const r = recommendation(steps, { ...PLAN_32, maxContext: 32768 }, '', 'num-ctx')
  t.match(r, /^Recommendation: num_ctx 8192, the longest that stayed flat on this machine; from num_ctx 16384 it slowed beyond the spread\. `memtrace plan` says the longest context that fits with one slot is 32768 \(KV cache f16/)
})

t.test('num-ctx: the table and chart of a context sweep, from its recorded lines', async t => {
  const { chart, markdown } = await import('../results.js')
  // Figures of a num-ctx run on the stand-in (2 requests a step; the simulated runner at scale 0.02).
  const steps = named([32.7, 32.2, 32.7, 32.0]).map((s, i) => ({ ...s, experiment: 'num-ctx' as const, step: 2048 * 2 ** i, genTpsSd: 0.5, requests: 2, effectiveNp: 1, rssIdleBytes: [138, 140, 145, 158][i] as number * 1024 ** 2 }))
  const settings = { model: 'qwen2.5-coder:7b', numCtx: 4096, requests: 2, warmup: 1, cooldownMs: 200, seed: 42, temperature: 0 }
  const md = markdown(steps, settings, { measuredBytes: 1.35 * 1024, predictedBytes: 56 * 1024 }, undefined, 'num-ctx')
  t.match(md, /^# memtrace bench num-ctx: qwen2\.5-coder:7b/)
  t.match(md, /^NUM_PARALLEL 1, one request at a time/m)
  t.match(md, /^\| num_ctx \| runner NP \| gen t\/s \|/m)
  t.match(md, /^\| 16384 \| 1 \| 32\.0 ± 0\.5 \|/m)
  t.match(md, /Phases: flat 2048–16384/)
  t.match(md, /Per 1,024 tokens of context: measured 1 MiB .* predicted 56 MiB/)
  const svg = chart(steps, settings, 'num-ctx')
  t.match(svg, /Context sweep · qwen2\.5-coder:7b · NUM_PARALLEL 1/)
  t.match(svg, />num_ctx \(tokens\)</)
  // Doubled contexts are evenly spaced: 2048, 4096, 8192 and 16384 at equal steps along the axis.
  const xs = [...svg.matchAll(/<circle cx="([\d.]+)" cy="[\d.]+" r="5"/g)].map(m => Number(m[1])).slice(0, 4)
  t.equal(xs.length, 4)
  t.ok(Math.abs(xs[1]! - xs[0]! - (xs[3]! - xs[2]!)) < 0.01, `evenly spaced: ${xs.join(', ')}`)
})

t.test('bench num-ctx: its own options, said before anything runs', async t => {
  const { memtrace } = await import('../../core/test/helpers.js')
  const r = memtrace(['bench', 'num-ctx', '--model', 'm', '--min-ctx', '8192', '--max-ctx', '4096', '--serve-cmd', 'true'])
  t.equal(r.code, 1)
  t.match(r.stderr, /--min-ctx is above --max-ctx/)
  const np = memtrace(['bench', 'num-ctx', '--model', 'm', '--max-np', '4'])
  t.match(np.stderr, /bench num-ctx does not take --max-np/)
})
