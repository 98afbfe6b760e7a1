import type { ProblemLog } from './problems.js'

/**
 * One listing per source per block. A source printed again in one block
 * (`nvidia-smi -l`, `free -s`, `/proc/swaps` beside `swapon --show`, two
 * samples pasted together) would count its figures twice: the later listing
 * replaces the earlier, and each repeat is reported as a `duplicate`. Keyed
 * listings (one GPU among several) are replaced key by key.
 */
export class PerBlock<T> {
  readonly #items = new Map<string, T>()
  readonly #problems: ProblemLog
  readonly #file: string
  readonly #repeat: (before: T, next: T) => string

  /** `repeat` says what was printed twice; it may carry over to `next` what a repeat keeps of the first (a GPU's index). */
  constructor(problems: ProblemLog, file: string, repeat: (before: T, next: T) => string) {
    this.#problems = problems
    this.#file = file
    this.#repeat = repeat
  }

  /** `value` is the listing of `key`, from line `no`; returns it. */
  put(no: number, value: T, key = ''): T {
    const before = this.#items.get(key)
    if (before !== undefined) this.#problems.add(this.#file, no, 'duplicate', this.#repeat(before, value))
    this.#items.set(key, value)
    return value
  }

  get(key = ''): T | undefined {
    return this.#items.get(key)
  }

  get size(): number {
    return this.#items.size
  }

  keys(): string[] {
    return [...this.#items.keys()]
  }

  values(): T[] {
    return [...this.#items.values()]
  }
}
