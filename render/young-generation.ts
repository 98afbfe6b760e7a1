/**
 * A ceiling on V8's young generation while a render reads its traces.
 *
 * V8 doubles the young generation (two semi-spaces) each time as many bytes
 * have survived young collections since the last doubling as it holds, up
 * to two of 16 MB. What a render keeps of each process (its command line,
 * its series, the views of its samples) survives once inside the young
 * generation and once more when it leaves it, so a trace of thousands of
 * processes doubles it to the full 32 MB, every page of which is then
 * touched: about 15 MB of the render's peak. Half of it costs no time that
 * could be measured (10,000 processes, alternately with and without).
 *
 * The ceiling (`--max-semi-space-size`) cannot be set once node runs, and
 * memtrace is run as `memtrace` or `node memtrace.js`, with node's own
 * flags. The growth factor can: V8 reads it at each doubling. So, as the
 * traces are read, once the young generation holds 16 MB (two semi-spaces
 * of 8 MB), it is told to grow by a factor of one, and stays there.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'

/** The young generation's size at which its growth is stopped: both semi-spaces together. */
const CEILING = 16 << 20
/** Chunks read between looks at the heap (each chunk is 32 KiB of text). */
const EVERY = 8

/** A hook to run after each chunk a render reads: stops the young generation's growth at CEILING. */
export function youngGenerationCeiling(): () => void {
  let chunks = 0
  let done = false
  return () => {
    if (done || ++chunks % EVERY !== 0) return
    const young = getHeapSpaceStatistics().find(s => s.space_name === 'new_space')
    // No such space (a V8 whose young generation is not two semi-spaces): nothing to do, ever.
    if (!young) done = true
    else if (young.space_size >= CEILING) {
      setFlagsFromString('--semi-space-growth-factor=1')
      done = true
    }
  }
}
