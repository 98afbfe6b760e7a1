import type { Problem, ProblemKind } from '../../schemas/index.js'

const FIRST_LINES_KEPT = 5

interface Tally {
  file: string
  kind: ProblemKind
  count: number
  lines: number[]
  message: string
}

/**
 * Collects what parsers skipped. Memory stays bounded on a badly damaged
 * file: per file and kind, a count, the first few line numbers and the first
 * message.
 */
export class ProblemLog {
  readonly #tallies = new Map<string, Tally>()
  #listener: ((p: Problem) => void) | undefined

  /** Be told of every problem as it is found (used by `memtrace parse`). */
  onProblem(listener: (p: Problem) => void): void {
    this.#listener = listener
  }

  add(file: string, line: number, kind: ProblemKind, message: string): void {
    const key = `${file}\u0000${kind}`
    let t = this.#tallies.get(key)
    if (!t) {
      t = { file, kind, count: 0, lines: [], message }
      this.#tallies.set(key, t)
    }
    t.count++
    if (t.lines.length < FIRST_LINES_KEPT) t.lines.push(line)
    this.#listener?.({ record: 'problem', file, line, kind, message })
  }

  get total(): number {
    let n = 0
    for (const t of this.#tallies.values()) n += t.count
    return n
  }

  count(kind: ProblemKind): number {
    let n = 0
    for (const t of this.#tallies.values()) if (t.kind === kind) n += t.count
    return n
  }

  /** One line per file and kind: `file: 3 bad-row (lines 4, 9, 17): message`. */
  summary(): string[] {
    return [...this.#tallies.values()].map(t => {
      const more = t.count > t.lines.length ? ', …' : ''
      const where = `line${t.lines.length > 1 ? 's' : ''} ${t.lines.join(', ')}${more}`
      return `${t.file}: ${t.count} ${t.kind} (${where}): ${t.message}`
    })
  }
}
