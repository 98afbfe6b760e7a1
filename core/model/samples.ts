/**
 * Numbers as they arrive. The first SMALL go into a plain array, which a
 * short series (most of a busy host's processes) keeps and hands over as is;
 * past that, into typed arrays of a fixed size, one after another. Appending
 * makes no garbage and nothing is ever copied to grow: a doubling array left
 * its old halves behind, twice the samples' size at its peak, and a plain
 * array's backing store of thousands of numbers was copied by every young
 * collection. Pure.
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

  /** The values as a plain array, as long as they are (no spare room at the end of a long one). */
  array(): number[] {
    const open = this.#open
    if (!open) return this.#small
    const out = new Array<number>(this.length)
    let k = 0
    for (const b of this.#blocks) for (let i = 0; i < BLOCK; i++) out[k++] = b[i] as number
    for (let i = 0; i < this.#fill; i++) out[k++] = open[i] as number
    return out
  }
}

/** Values a column keeps in a plain array before it moves them to typed blocks. */
const SMALL = 1024
/** Values in each typed block (64 KiB). */
const BLOCK = 8192

/** One process's samples while the trace is read: times and RSS. */
export class Samples {
  readonly #ts = new Column()
  readonly #rss = new Column()

  /** The time of the last sample (only when there is one): a field, read on every row without a call. */
  lastTs = NaN

  get n(): number {
    return this.#ts.length
  }

  push(tsMs: number, rssKb: number): void {
    this.#ts.push(tsMs)
    this.#rss.push(rssKb)
    this.lastTs = tsMs
  }

  /** The samples as plain arrays, as long as they are. */
  arrays(): { tsMs: number[]; rssKb: number[] } {
    return { tsMs: this.#ts.array(), rssKb: this.#rss.array() }
  }
}

/**
 * The times at which any of `series` has a sample (where `keep` says so),
 * ascending, each once, with how many series have one then. A few series
 * (each in time order) are merged side by side; many are copied into one
 * typed array and sorted natively. Either way: no map of times, no boxed
 * numbers, and typed arrays of the exact size, outside the JS heap.
 */
export function timesOf(series: readonly { tsMs: readonly number[] }[], keep?: (s: number, i: number) => boolean): { times: Float64Array; counts: Float64Array } {
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
function ascending(ts: readonly number[]): boolean {
  for (let i = 0; i < ts.length; i++) {
    const v = ts[i] as number
    if (!(v - v === 0) || (i > 0 && !(v >= (ts[i - 1] as number)))) return false // v - v is 0 only for a finite v
  }
  return true
}

/** timesOf for a few series in time order: the smallest next time of all, counted, and on. */
function merged(series: readonly { tsMs: readonly number[] }[], total: number, keep?: (s: number, i: number) => boolean): { times: Float64Array; counts: Float64Array } {
  // Where each series stands and its time there (Infinity past its end), in typed arrays: no number boxed per step.
  const at = new Float64Array(series.length)
  const heads = new Float64Array(series.length)
  const next = (k: number) => {
    const ts = (series[k] as { tsMs: readonly number[] }).tsMs
    let i = at[k] as number
    while (i < ts.length && keep && !keep(k, i)) i++
    at[k] = i
    heads[k] = i < ts.length ? (ts[i] as number) : Infinity
  }
  for (let k = 0; k < series.length; k++) next(k)
  const times = new Float64Array(total)
  const counts = new Float64Array(total)
  let j = 0
  for (;;) {
    let t = Infinity
    for (const h of heads) if (h < t) t = h
    if (t === Infinity) break
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
  return { times: times.slice(0, j), counts: counts.slice(0, j) }
}

