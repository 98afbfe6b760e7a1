import t from 'tap'
import { latency, mean, percentile, sd } from '../stats.js'

t.test('percentiles interpolate between the closest ranks, as numpy.percentile does by default', async t => {
  t.equal(percentile([4, 1, 3, 2], 50), 2.5)
  t.equal(percentile([1, 2, 3, 4, 5], 95), 4.8)
  t.equal(percentile([1, 2, 3, 4, 5], 99), 4.96)
  t.equal(percentile([7], 99), 7, 'one value is every percentile')
  t.equal(percentile([], 50), undefined)
  t.equal(mean([1, 2, 3]), 2)
  t.equal(sd([2, 4, 4, 4, 5, 5, 7, 9]).toFixed(4), '2.1381', 'the sample standard deviation (n − 1)')
  t.equal(sd([5]), 0)
})

t.test('latency per step: TTFT, TPOT, ITL pooled over the requests, E2E', async t => {
  const l = latency([
    // 11 tokens: the first at 100 ms, the last at 1100 ms: 100 ms a token after the first.
    { ttftMs: 100, e2eMs: 1100, evalCount: 11, itlMs: [90, 110, 100] },
    { ttftMs: 300, e2eMs: 2300, evalCount: 11, itlMs: [200, 200] },
    // One token: no time per output token after the first.
    { ttftMs: 50, e2eMs: 60, evalCount: 1, itlMs: [] },
  ])
  t.equal(l.ttftP50Ms, 100)
  t.equal(l.ttftP99Ms?.toFixed(6), (100 + 0.98 * 200).toFixed(6), 'p99 of 50, 100, 300: 98 % of the way from the second to the third')
  t.equal(l.tpotP50Ms, 150, 'the median of 100 and 200 ms a token')
  t.equal(l.itlP50Ms, 110, 'the median of all five gaps')
  t.equal(l.e2eP95Ms?.toFixed(6), (1100 + 0.9 * 1200).toFixed(6))
  t.same(latency([]), {}, 'no request, no latency')
})
