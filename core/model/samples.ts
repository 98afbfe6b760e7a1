/**
 * Numbers as they arrive, for a series known to be short or kept by one
 * owner (a system field: one value per block). The first SMALL go into a
 * plain array; past that, into typed arrays of a fixed size, one after
 * another, so appending never copies to grow. Handed over as one typed array
 * of the exact length. Pure.
 */
export class Column {
  #small: number[] = []
  /** Full blocks, then the one being filled. */
  readonly #blocks: Float64Array[] = []
  #open: Float64Array | undefined
  #fill = 0
  length = 0

  /** A column of `n` NaNs: a series that begins after others. */
  static ofNaN(n: number): Column {
    const c = new Column()
    for (let i = 0; i < n; i++) c.push(NaN)
    return c
  }

  /** The last value (only when there is one). */
  get last(): number {
    return (this.#open ? this.#open[this.#fill - 1] : this.#small[this.length - 1]) as number
  }

  push(v: number): void {
    const open = this.#open
    if (!open) {
      this.#small.push(v)
      if (++this.length === SMALL) {
        const first = new Float64Array(BLOCK)
        first.set(this.#small)
        this.#open = first
        this.#fill = SMALL
        this.#small = []
      }
      return
    }
    if (this.#fill === BLOCK) {
      this.#blocks.push(open)
      this.#open = new Float64Array(BLOCK)
      this.#fill = 0
    }
    ;(this.#open as Float64Array)[this.#fill++] = v
    this.length++
  }

  /** The values as one typed array of their exact length. */
  values(): Float64Array {
    const open = this.#open
    if (!open) return Float64Array.from(this.#small)
    const out = new Float64Array(this.length)
    let k = 0
    for (const b of this.#blocks) {
      out.set(b, k)
      k += BLOCK
    }
    out.set(open.subarray(0, this.#fill), k)
    return out
  }
}

const NO_TIMES = new Float64Array(0)

/** Values a column keeps in a plain array before it moves them to typed blocks. */
const SMALL = 1024
/** Values in each typed block (64 KiB). */
const BLOCK = 8192
/** Samples in each block of the log: 512 KiB of times, large enough that the C library maps each on its own and gives it back when freed. */
const LOG_BLOCK = 1 << 16

/**
 * Every process's samples (time and RSS) in the order the rows came, with the
 * number of the process each belongs to, in typed blocks: a sample costs 20
 * bytes outside the JS heap and nothing is made per row. At the end they are
 * sorted by process, in one pass, into one typed array per column, and each
 * process's samples are a view of it. Before, each process gathered its own
 * samples and handed them over as plain arrays: half a million numbers on
 * the JS heap, whose survival made V8 double its young generation.
 */
export class SampleLog {
  readonly #ts: Float64Array[] = []
  readonly #vals: Float64Array[] = []
  readonly #owner: Int32Array[] = []
  /** The blocks being filled (the last of each list). */
  #openTs = NO_TIMES
  #openVals = NO_TIMES
  #openOwner = new Int32Array(0)
  #fill = LOG_BLOCK
  #counts = new Int32Array(64)
  #owners = 0
  length = 0

  /** A number for a new series. */
  add(): number {
    if (this.#owners === this.#counts.length) {
      const grown = new Int32Array(this.#counts.length * 2)
      grown.set(this.#counts)
      this.#counts = grown
    }
    return this.#owners++
  }

  push(owner: number, t: number, v: number): void {
    if (this.#fill === LOG_BLOCK) {
      this.#ts.push((this.#openTs = new Float64Array(LOG_BLOCK)))
      this.#vals.push((this.#openVals = new Float64Array(LOG_BLOCK)))
      this.#owner.push((this.#openOwner = new Int32Array(LOG_BLOCK)))
      this.#fill = 0
    }
    const i = this.#fill++
    this.#openTs[i] = t
    this.#openVals[i] = v
    this.#openOwner[i] = owner
    this.#counts[owner] = (this.#counts[owner] as number) + 1
    this.length++
  }

  /**
   * The samples of each series in `owners`, in the order they came, as views
   * of two typed arrays of the exact size; the log is emptied. A series not
   * named is left out.
   */
  split(owners: readonly number[]): { ts: Float64Array; vals: Float64Array }[] {
    const at = new Int32Array(this.#owners).fill(-1)
    let total = 0
    for (const o of owners) {
      at[o] = total
      total += this.#counts[o] as number
    }
    const ts = new Float64Array(total)
    const vals = new Float64Array(total)
    const views = owners.map(o => {
      const from = at[o] as number
      const to = from + (this.#counts[o] as number)
      return { ts: ts.subarray(from, to), vals: vals.subarray(from, to) }
    })
    for (let b = 0; b < this.#ts.length; b++) {
      const bt = this.#ts[b] as Float64Array
      const bv = this.#vals[b] as Float64Array
      const bo = this.#owner[b] as Int32Array
      const n = b === this.#ts.length - 1 ? this.#fill : LOG_BLOCK
      for (let i = 0; i < n; i++) {
        const o = bo[i] as number
        const k = at[o] as number
        if (k < 0) continue
        ts[k] = bt[i] as number
        vals[k] = bv[i] as number
        at[o] = k + 1
      }
    }
    // Each block's memory handed to a new, young buffer that nothing holds: a young collection frees it, where the
    // old blocks themselves, long past young, would wait for a full collection, and the peak would hold both copies.
    for (const b of [...this.#ts, ...this.#vals, ...this.#owner]) structuredClone(b.buffer, { transfer: [b.buffer] })
    this.#ts.length = this.#vals.length = this.#owner.length = 0
    this.#openTs = this.#openVals = NO_TIMES
    this.#openOwner = new Int32Array(0)
    this.#fill = LOG_BLOCK
    this.#counts = new Int32Array(64)
    this.#owners = this.length = 0
    return views
  }
}

/**
 * The times at which any of `series` has a sample (where `keep` says so),
 * ascending, each once, with how many series have one then. A few series
 * (each in time order) are merged side by side; many are copied into one
 * typed array and sorted natively. Either way: no map of times, no boxed
 * numbers, and typed arrays of the exact size, outside the JS heap.
 */
export function timesOf(series: readonly { tsMs: ArrayLike<number> }[], keep?: (s: number, i: number) => boolean): { times: Float64Array; counts: Float64Array } {
  let total = 0
  for (const s of series) total += s.tsMs.length
  if (series.length <= MERGED && series.every(s => ascending(s.tsMs))) return merged(series, total, keep)
  const all = new Float64Array(total)
  let n = 0
  series.forEach((s, k) => {
    for (let i = 0; i < s.tsMs.length; i++) if (!keep || keep(k, i)) all[n++] = s.tsMs[i] as number
  })
  const counted = onGrid(all.subarray(0, n))
  if (counted) return counted
  const sorted = all.subarray(0, n).sort()
  const times = new Float64Array(n)
  const counts = new Float64Array(n)
  let j = -1
  for (let i = 0; i < n; i++) {
    const t = sorted[i] as number
    if (j >= 0 && t === times[j]) counts[j] = (counts[j] as number) + 1
    else {
      times[++j] = t
      counts[j] = 1
    }
  }
  return { times: times.slice(0, j + 1), counts: counts.slice(0, j + 1) }
}

/**
 * Times that are whole numbers on a grid (every 1,000 ms, say) counted in
 * their slots, without a sort: the grid's step is the greatest common divisor
 * of their distances from the first, and each time is the first plus a
 * whole number of steps, exactly. Undefined when they are not, or when the
 * grid has far more slots than there are times.
 */
function onGrid(all: Float64Array): { times: Float64Array; counts: Float64Array } | undefined {
  const n = all.length
  if (n === 0) return undefined
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < n; i++) {
    const t = all[i] as number
    if (!Number.isSafeInteger(t)) return undefined
    if (t < min) min = t
    if (t > max) max = t
  }
  let step = 0
  for (let i = 0; i < n && step !== 1; i++) step = gcd(step, (all[i] as number) - min)
  const slots = step === 0 ? 1 : (max - min) / step + 1
  if (slots > 4 * n + 1024) return undefined
  const count = new Uint32Array(slots)
  for (let i = 0; i < n; i++) {
    const k = step === 0 ? 0 : ((all[i] as number) - min) / step
    count[k] = (count[k] as number) + 1
  }
  let distinct = 0
  for (let k = 0; k < slots; k++) if (count[k]) distinct++
  const times = new Float64Array(distinct)
  const counts = new Float64Array(distinct)
  let j = 0
  for (let k = 0; k < slots; k++) {
    const c = count[k] as number
    if (!c) continue
    times[j] = min + k * step
    counts[j++] = c
  }
  return { times, counts }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b]
  return a
}

/** Up to this many series, merging side by side beats sorting them all. */
const MERGED = 16

/** In time order, and every time a finite number (the merge stops at Infinity). */
function ascending(ts: ArrayLike<number>): boolean {
  for (let i = 0; i < ts.length; i++) {
    const v = ts[i] as number
    if (!(v - v === 0) || (i > 0 && !(v >= (ts[i - 1] as number)))) return false // v - v is 0 only for a finite v
  }
  return true
}

/** timesOf for a few series in time order: the smallest next time of all, counted, and on. */
function merged(series: readonly { tsMs: ArrayLike<number> }[], total: number, keep?: (s: number, i: number) => boolean): { times: Float64Array; counts: Float64Array } {
  // Where each series stands and its time there (Infinity past its end), in typed arrays: no number boxed per step.
  const at = new Float64Array(series.length)
  const heads = new Float64Array(series.length)
  const next = (k: number) => {
    const ts = (series[k] as { tsMs: ArrayLike<number> }).tsMs
    let i = at[k] as number
    while (i < ts.length && keep && !keep(k, i)) i++
    at[k] = i
    heads[k] = i < ts.length ? (ts[i] as number) : Infinity
  }
  for (let k = 0; k < series.length; k++) next(k)
  // Room for as many times as the longest series has, at first: series sampled together share their times, so
  // that is usually all there are (a day of six processes: 86,400, not the 518,400 of them all).
  let longest = 0
  for (const s of series) longest = Math.max(longest, s.tsMs.length)
  let times = new Float64Array(Math.min(total, longest))
  let counts = new Float64Array(times.length)
  let j = 0
  for (;;) {
    let t = Infinity
    for (const h of heads) if (h < t) t = h
    if (t === Infinity) break
    if (j === times.length) {
      const more = Math.min(total, 2 * j)
      const t2 = new Float64Array(more)
      const c2 = new Float64Array(more)
      t2.set(times)
      c2.set(counts)
      times = t2
      counts = c2
    }
    let c = 0
    for (let k = 0; k < heads.length; k++) {
      while (heads[k] === t) {
        c++
        at[k] = (at[k] as number) + 1
        next(k)
      }
    }
    times[j] = t
    counts[j++] = c
  }
  return j === times.length ? { times, counts } : { times: times.slice(0, j), counts: counts.slice(0, j) }
}

