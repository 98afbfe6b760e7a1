/**
 * Text gathered as UTF-8 bytes in chunks of a fixed size, never copied to
 * grow and never joined: the chart is written to its file chunk by chunk.
 * On a chart of thousands of processes the path texts are most of the SVG
 * (7.6 MB on 10,000 processes); gathered as strings, or as one buffer
 * doubled as it grew and read back as one string, they were held two and
 * three times over at the end. Path numbers are written as digits straight
 * into the bytes: no string is made for them. Pure.
 */
export class ByteSink {
  /** Filled chunks, each a view of the bytes written in it. */
  readonly #done: Buffer[] = []
  #buf = Buffer.allocUnsafe(CHUNK)
  #at = 0

  /** Bytes written so far. */
  get size(): number {
    let n = this.#at
    for (const c of this.#done) n += c.length
    return n
  }

  add(s: string): void {
    if (s.length === 0) return
    // A UTF-8 character takes at most three bytes per UTF-16 unit.
    if (3 * s.length > this.#buf.length - this.#at) {
      if (3 * s.length > CHUNK) {
        this.#close()
        this.#done.push(Buffer.from(s, 'utf8'))
        return
      }
      this.#next()
    }
    this.#at += this.#buf.write(s, this.#at)
  }

  /** One ASCII character, by its code. */
  char(code: number): void {
    if (this.#at === this.#buf.length) this.#next()
    this.#buf[this.#at++] = code
  }

  /**
   * `String(Math.round(v * 10) / 10)`, from whole numbers: the digits of the
   * tenths with a point before the last, which is what that string is for any
   * |v| below 10^14 (a decimal of 15 digits or fewer names its double
   * exactly, and nothing shorter does).
   */
  tenths(v: number): void {
    const r = Math.round(v * 10)
    if (!(r > -1e15 && r < 1e15)) {
      this.add(String(r / 10))
      return
    }
    // A sign, 14 digits, a point and a tenth at most.
    if (this.#at + 17 > this.#buf.length) this.#next()
    const b = this.#buf
    let at = this.#at
    if (r < 0) b[at++] = 45 /* - */
    const a = r < 0 ? -r : r
    let whole = Math.floor(a / 10)
    const tenth = a - whole * 10
    let digits = 1
    for (let p = 10; p <= whole; p *= 10) digits++
    for (let k = at + digits - 1; k >= at; k--) {
      const q = Math.floor(whole / 10)
      b[k] = 48 + (whole - q * 10)
      whole = q
    }
    at += digits
    if (tenth !== 0) {
      b[at++] = 46 /* . */
      b[at++] = 48 + tenth
    }
    this.#at = at
  }

  /** Another sink's bytes, after these (its chunks are taken over, not copied). */
  append(other: ByteSink): void {
    this.#close()
    for (const c of other.chunks()) this.#done.push(c)
  }

  /** The bytes, in order, as views of the chunks (the sink is empty after). */
  chunks(): Buffer[] {
    this.#close()
    const out = this.#done.splice(0)
    return out
  }

  /** The bytes as text (the sink is empty after). */
  text(): string {
    return Buffer.concat(this.chunks()).toString('utf8')
  }

  /** Ends the chunk being filled; the next write opens a new one. */
  #close(): void {
    if (this.#at > 0) this.#done.push(this.#buf.subarray(0, this.#at))
    this.#buf = this.#at > 0 ? EMPTY : this.#buf
    this.#at = 0
  }

  #next(): void {
    this.#close()
    this.#buf = Buffer.allocUnsafe(CHUNK)
  }
}

/** Bytes in each chunk: large enough that the C library maps each on its own and gives it back when freed. */
const CHUNK = 1 << 18
const EMPTY = Buffer.alloc(0)
