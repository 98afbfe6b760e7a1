import t from 'tap'
import { cause, parallelVerdict, phases } from '../rules.js'

/** Seed 000's table: NP 1–15, one request at a time, qwen2.5-coder:7b at 32k context on a 32 GB Mac mini. */
const SEED_000 = [
  { np: 1, gen: 21.1, pageOuts: 0 }, { np: 2, gen: 21.1, pageOuts: 0 }, { np: 3, gen: 21.0, pageOuts: 0 }, { np: 4, gen: 21.0, pageOuts: 0 },
  { np: 5, gen: 20.9, pageOuts: 0 }, { np: 6, gen: 22.2, pageOuts: 0 }, { np: 7, gen: 22.3, pageOuts: 0 }, { np: 8, gen: 20.2, pageOuts: 0 },
  { np: 9, gen: 18.7, pageOuts: 0 }, { np: 10, gen: 17.2, pageOuts: 6 }, { np: 11, gen: 15.6, pageOuts: 42 }, { np: 12, gen: 14.3, pageOuts: 131 },
  { np: 13, gen: 14.4, pageOuts: 22 }, { np: 14, gen: 14.4, pageOuts: 2 }, { np: 15, gen: 14.4, pageOuts: 9 },
]

/** Seed 001's table: P 1–4 concurrent requests, qwen3-coder:30b with NUM_PARALLEL=4, memory flat at 24.2 GB. */
const SEED_001 = [
  { step: 1, genTps: 36.6, totalTps: 36.1 },
  { step: 2, genTps: 23.0, totalTps: 43.3 },
  { step: 3, genTps: 15.6, totalTps: 44.5 },
  { step: 4, genTps: 11.8, totalTps: 43.7 },
]

t.test("seed 000's phases: flat 1–8, degradation from 9, cliff at 12, stabilized 13–15", async t => {
  const p = phases(SEED_000.map(s => s.gen))
  const at = (name: string) => SEED_000.filter((_, i) => p[i] === name).map(s => s.np)
  t.same(at('flat'), [1, 2, 3, 4, 5, 6, 7, 8])
  t.same(at('degradation'), [9, 10, 11])
  t.same(at('cliff'), [12])
  t.same(at('stabilized'), [13, 14, 15])
})

t.test('phases at the edges: never slower, still falling at the end, one sudden drop', async t => {
  t.same(phases([20, 20.5, 19.5]), ['flat', 'flat', 'flat'])
  t.same(phases([20, 16, 12, 8]), ['flat', 'degradation', 'degradation', 'degradation'], 'no cliff while it still falls')
  t.same(phases([20, 20, 10, 10.2, 9.9]), ['flat', 'flat', 'cliff', 'stabilized', 'stabilized'])
  t.same(phases([]), [])
})

t.test("seed 000's causes: the slow steps with page-outs are memory, the first slow one compute", async t => {
  const p = phases(SEED_000.map(s => s.gen))
  const slow = SEED_000.filter((_, i) => p[i] !== 'flat').map(s => [s.np, cause({ pageOuts: s.pageOuts, swapGrowthBytes: 0 })])
  t.same(slow.slice(0, 4), [[9, 'compute'], [10, 'memory'], [11, 'memory'], [12, 'memory']])
  t.equal(cause({ pageOuts: 0, swapGrowthBytes: 1 }), 'memory', 'swap growth alone is memory')
})

t.test("seed 001: cliff at P=3, throughput peak at P=3, knee at P=3, cause compute (memory flat)", async t => {
  t.same(parallelVerdict(SEED_001), { cliff: 3, peak: 3, knee: 3 })
  t.equal(cause({ pageOuts: 0, swapGrowthBytes: 0 }), 'compute')
  t.same(parallelVerdict([{ step: 1, genTps: 10, totalTps: 10 }, { step: 2, genTps: 9, totalTps: 18 }]), { peak: 2 }, 'no cliff, no knee when it still scales')
  t.equal(parallelVerdict([]), undefined)
})
