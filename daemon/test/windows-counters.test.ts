import t from 'tap'
import { CounterStream } from '../probe/typeperf.js'
import { sleep } from './helpers.js'

t.test('a typeperf that ends three times without a sample is given up, and said once', async t => {
  const abort = new AbortController()
  t.teardown(() => abort.abort())
  // `false` prints nothing and ends: what a typeperf that knows none of the counters leaves of a sample.
  const c = new CounterStream('false', ['\\Memory\\Available Bytes'], 1, abort.signal)
  const said: (string | undefined)[] = []
  let now = Date.now()
  for (let i = 0; i < 5; i++) {
    said.push(c.sample(now).error)
    await sleep(300)
    now += 6000
  }
  t.equal(c.starts, 3, 'started three times, 5 s apart at least')
  t.match(said[1], /^typeperf exited \(status 1\); started again$/)
  t.match(said[3], /^typeperf exited \(status 1\), three times without a sample: given up/)
  t.equal(said[4], undefined, 'said once')
  t.same(c.sample(now + 60_000), { text: '' })
})
