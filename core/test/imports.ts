/**
 * The house's import rules, read from the sources: which room may import
 * which, no imports of test files, no cycles. Pure over a map of file →
 * source text, so the rules are themselves tested on small made-up trees.
 */
import { posix } from 'node:path'

/** Each room and the rooms its code may import (besides itself). `*` is any room. */
export const RULES: Record<string, string[]> = {
  schemas: [],
  core: ['schemas'],
  daemon: ['core', 'schemas'],
  render: ['core', 'schemas'],
  standin: ['core', 'schemas'],
  bench: ['core', 'schemas', 'render/index.ts', 'daemon/index.ts'],
  bin: ['core', 'schemas', 'render', 'daemon', 'bench'],
  perf: ['*'],
  scripts: ['*'],
}

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm

/** The relative imports of one file, resolved to repository paths (`.js` read as the `.ts` it is built from). */
export function importsOf(file: string, source: string): string[] {
  const out: string[] = []
  for (const m of source.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3]
    if (!spec?.startsWith('.')) continue
    out.push(posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts'))
  }
  return out
}

export const isTest = (file: string) => /(^|\/)test\//.test(file) || /\.test\.ts$/.test(file)
const room = (file: string) => file.split('/')[0] as string

/** What breaks the rules, one sentence each; empty when the house is in order. */
export function checkHouse(files: Map<string, string>): string[] {
  const problems: string[] = []
  const graph = new Map<string, string[]>()
  for (const [file, source] of files) {
    const targets = importsOf(file, source)
    graph.set(file, targets.filter(t => files.has(t)))
    for (const t of targets) {
      if (/\.test\.ts$/.test(t)) problems.push(`${file} imports the test file ${t}`)
      else if (isTest(t) && !isTest(file)) problems.push(`${file} imports ${t}, which is test code`)
      if (isTest(file)) continue
      const from = room(file)
      const to = room(t)
      if (from === to) continue
      const allowed = RULES[from]
      if (!allowed) problems.push(`${file} is in no known room`)
      else if (!allowed.includes('*') && !allowed.includes(to) && !allowed.includes(t)) {
        problems.push(`${file} imports ${t}: ${from}/ may import ${allowed.length ? allowed.join(', ') : 'nothing of the project'}`)
      }
    }
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.join(' → ')}`)
  return problems
}

/** Every strongly connected group of more than one file (or a file importing itself), as a path back to its start. */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  let next = 0
  const visit = (v: string) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) !== index.get(v)) return
    const group: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      group.push(w)
    } while (w !== v)
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) found.push([...group.sort(), group[0]!])
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v)
  return found
}
