import t from 'tap'
import { busySteps, cause, firstSigns, npCause, parallelVerdict, phases, type Reading, signsText } from '../rules.js'
import { mean, sd } from '../stats.js'

/** Seed 000's table as printed (means only): NP 1–15, one request at a time, qwen2.5-coder:7b at 32k context on a 32 GB Mac mini. */
const SEED_000 = [
  { np: 1, gen: 21.1, pageOuts: 0 }, { np: 2, gen: 21.1, pageOuts: 0 }, { np: 3, gen: 21.0, pageOuts: 0 }, { np: 4, gen: 21.0, pageOuts: 0 },
  { np: 5, gen: 20.9, pageOuts: 0 }, { np: 6, gen: 22.2, pageOuts: 0 }, { np: 7, gen: 22.3, pageOuts: 0 }, { np: 8, gen: 20.2, pageOuts: 0 },
  { np: 9, gen: 18.7, pageOuts: 0 }, { np: 10, gen: 17.2, pageOuts: 6 }, { np: 11, gen: 15.6, pageOuts: 42 }, { np: 12, gen: 14.3, pageOuts: 131 },
  { np: 13, gen: 14.4, pageOuts: 22 }, { np: 14, gen: 14.4, pageOuts: 2 }, { np: 15, gen: 14.4, pageOuts: 9 },
]

/** Seed 001's table as printed: P 1–4 concurrent requests, qwen3-coder:30b with NUM_PARALLEL=4, memory flat at 24.2 GB. */
const SEED_001 = [
  { step: 1, gen: { mean: 36.6 }, total: { mean: 36.1 } },
  { step: 2, gen: { mean: 23.0 }, total: { mean: 43.3 } },
  { step: 3, gen: { mean: 15.6 }, total: { mean: 44.5 } },
  { step: 4, gen: { mean: 11.8 }, total: { mean: 43.7 } },
]

const asRead = (v: number[]): Reading[] => v.map(mean => ({ mean }))
const at = (p: string[], name: string, steps: number[]) => steps.filter((_, i) => p[i] === name)

/** A small deterministic generator (mulberry32), so a noisy sweep is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** A step of `n` requests around `level`, each off by up to ±`noise` of it: its mean and standard deviation, as a sweep records them. */
function noisyStep(level: number, noise: number, n: number, r: () => number): Reading {
  const v = Array.from({ length: n }, () => level * (1 + noise * (2 * r() - 1)))
  return { mean: mean(v), sd: sd(v) }
}

t.test("seed 000's table as printed: flat 1–8, degradation 9–11, cliff 12, stabilized 13–15", async t => {
  const p = phases(asRead(SEED_000.map(s => s.gen)))
  const np = SEED_000.map(s => s.np)
  t.same(at(p, 'flat', np), [1, 2, 3, 4, 5, 6, 7, 8])
  t.same(at(p, 'degradation', np), [9, 10, 11])
  t.same(at(p, 'cliff', np), [12])
  t.same(at(p, 'stabilized', np), [13, 14, 15])
})

t.test("seed 000's cause: memory from NP 9 (compute is held constant), first page-outs at NP 10", async t => {
  const p = phases(asRead(SEED_000.map(s => s.gen)))
  t.same(SEED_000.map((s, i) => [s.np, npCause(p[i] as never) ?? 'none']).slice(7, 10), [[8, 'none'], [9, 'memory'], [10, 'memory']], 'NP 9 is memory (compression), never compute')
  const signs = firstSigns(SEED_000.map(s => ({ step: s.np, pageOuts: s.pageOuts })))
  t.same(signs, { pageOuts: 10 })
  t.equal(signsText(signs, 'NP'), 'first page-outs at NP 10')
  t.equal(signsText(firstSigns([{ step: 1, swapGrowthBytes: 0 }, { step: 2, compressionGrowthBytes: 5 }, { step: 3, swapGrowthBytes: 1, pageOuts: 1 }]), 'NP'), 'first compression growth at NP 2, first page-outs at NP 3, first swap growth at NP 3')
})

t.test('flat data with ±15 % noise names no phase', async t => {
  // The issue's figures: the means alone, and with the spread such noise gives each step.
  t.same(phases(asRead([20, 17, 21, 23, 16, 20])), Array(6).fill('flat'), 'a slow step that later steps climb back from is no phase')
  t.same(phases([20, 17, 21, 23, 16, 20].map(mean => ({ mean, sd: 3 }))), Array(6).fill('flat'))
  t.same(phases([20, 20, 21, 19, 17, 16].map(mean => ({ mean, sd: 3 }))), Array(6).fill('flat'), 'the last steps lower, but within the spread')
  // Fifty sweeps of eight steps, five requests a step, each request up to ±15 % off 20 t/s.
  const r = rng(1)
  const named = Array.from({ length: 50 }, () => phases(Array.from({ length: 8 }, () => noisyStep(20, 0.15, 5, r)))).filter(p => p.some(x => x !== 'flat'))
  t.same(named, [], 'no sweep of noise names a phase')
})

t.test('a real 30 % drop beyond the spread is named', async t => {
  const r = rng(2)
  for (const noise of [0.05, 0.15]) {
    const sweep = [20, 20, 20, 14, 14, 14].map(level => noisyStep(level, noise, 5, r))
    t.same(phases(sweep), ['flat', 'flat', 'flat', 'cliff', 'stabilized', 'stabilized'], `with ±${noise * 100} % noise: ${sweep.map(s => `${s.mean.toFixed(1)} ± ${s.sd?.toFixed(1)}`).join(', ')}`)
  }
  t.same(phases(asRead([20, 16, 12, 8])), ['flat', 'degradation', 'degradation', 'degradation'], 'no cliff while it still falls')
  t.same(phases([{ mean: 20, sd: 1 }, { mean: 17, sd: 3 }, { mean: 14, sd: 0.5 }]), ['flat', 'flat', 'degradation'], 'a 15 % drop within the spread is not one; the 30 % after it is')
  t.same(phases([]), [])
})

t.test('a step where speed rose back is never the cliff', async t => {
  t.same(phases([{ mean: 56, sd: 2 }, { mean: 45, sd: 2 }, { mean: 60, sd: 2 }, { mean: 60, sd: 2 }]), ['flat', 'flat', 'flat', 'flat'])
})

t.test("seed 001's table as printed: cliff, peak and knee at P=3, cause compute", async t => {
  t.same(parallelVerdict(SEED_001), { baseline: { tps: 36.6, from: 'gen' }, cliff: 3, peak: 3, knee: 3 })
  t.equal(cause({ pageOuts: 0, swapGrowthBytes: 0 }), 'compute', 'memory flat')
  t.equal(cause({ pageOuts: 0, swapGrowthBytes: 1 }), 'memory', 'swap growth alone is memory')
  t.equal(cause({ pageOuts: 0, swapGrowthBytes: 0, compressionGrowthBytes: 1 }), 'memory', 'compressor growth alone is memory')
  t.same(parallelVerdict([{ step: 1, gen: { mean: 10 }, total: { mean: 10 } }, { step: 2, gen: { mean: 9 }, total: { mean: 18 } }]), { baseline: { tps: 10, from: 'gen' }, peak: 2 }, 'no cliff, no knee when it still scales')
  t.equal(parallelVerdict([]), undefined)
})

t.test("seed 001 with P=1 read as 30 instead of 36.6: the cliff stays at P=3, or the spread is said to hide it", async t => {
  // As printed, with P=1's throughput in all (36.1): one request cannot be slower in all than it generates, so 30 is a low reading, and 36.1 the floor.
  const low = [{ ...SEED_001[0], gen: { mean: 30 } }, ...SEED_001.slice(1)] as typeof SEED_001
  t.same(parallelVerdict(low), { baseline: { tps: 36.1, from: 'total' }, cliff: 3, peak: 3, knee: 3 })
  // Without the throughput, and with the spread a reading that low came with: P=3 may or may not be under half of 30 ± 6; P=4 is. No cliff is named.
  const spread = [{ step: 1, gen: { mean: 30, sd: 6 } }, ...SEED_001.slice(1).map(s => ({ step: s.step, gen: s.gen }))]
  const v = parallelVerdict(spread)
  t.equal(v?.cliff, undefined, 'not P=4')
  t.same(v?.cliffBetween, { from: 3, to: 4 })
})

t.test('a peak within the spread of P=1 is not named', async t => {
  const v = parallelVerdict([{ step: 1, gen: { mean: 20 }, total: { mean: 19, sd: 2 } }, { step: 2, gen: { mean: 10 }, total: { mean: 20, sd: 2 } }])
  t.equal(v?.peak, undefined)
  t.equal(v?.knee, 2, 'a gain within the spread is no gain')
})

t.test('a busy host: the steps where other processes used more than 25 % of the CPU', async t => {
  t.same(busySteps([{ step: 1, otherCpuPct: 3 }, { step: 2, otherCpuPctBefore: 40, otherCpuPct: 10 }, { step: 3 }]), [{ step: 2, pct: 40 }])
  t.same(busySteps([{ step: 1, otherCpuPct: 25 }]), [], '25 % is not over the limit')
})

t.test('a quiet stand-in concurrency sweep (docs/bench.md): P=2 is within the spread of half, so no cliff is placed at P=3', async t => {
  const rows: [number, number, number, number][] = [[1, 58.8, 1.5, 45.0], [2, 30.7, 0.8, 51.5], [3, 23.7, 1.6, 59.0], [4, 22.3, 0.6, 72.2], [5, 16.9, 1.3, 70.1], [6, 14.8, 1.2, 73.2], [7, 13.6, 0.9, 75.6], [8, 12.8, 0.6, 79.0]]
  const v = parallelVerdict(rows.map(([step, mean, sd, total]) => ({ step, gen: { mean, sd }, total: { mean: total } })))
  t.same(v, { baseline: { tps: 58.8, from: 'gen' }, cliffBetween: { from: 2, to: 3 }, peak: 8, knee: 5 })
})
