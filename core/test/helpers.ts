import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProblemLog } from '../parse/problems.js'
import { SystemLogParser, type SystemBlock } from '../parse/system-log.js'
import { ProcTsvParser, type ProcRow } from '../parse/proc-tsv.js'

/** The repository root (tests run from dist/<part>/test/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const FIXTURES = join(ROOT, 'core', 'test', 'fixtures')
export const BIN = join(ROOT, 'dist', 'bin', 'memtrace.js')

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8')
}

/** Feeds text to a parser the way the file reader does (last line without \n is cut). */
function feed(text: string, onLine: (l: string, n: number) => void, onCut: (n: number) => void): void {
  const lines = text.split('\n')
  const last = lines.pop() as string
  lines.forEach((l, i) => onLine(l, i + 1))
  if (last !== '') onCut(lines.length + 1)
}

export function parseProc(text: string): { rows: ProcRow[]; problems: ProblemLog; parser: ProcTsvParser } {
  const problems = new ProblemLog()
  const parser = new ProcTsvParser('p.tsv', problems)
  const rows: ProcRow[] = []
  feed(text, (l, n) => {
    const r = parser.line(l, n)
    if (r) rows.push(r)
  }, n => parser.truncated(n))
  return { rows, problems, parser }
}

export function parseSys(text: string): { blocks: SystemBlock[]; problems: ProblemLog } {
  const problems = new ProblemLog()
  const parser = new SystemLogParser('s.log', problems)
  const blocks: SystemBlock[] = []
  feed(text, (l, n) => {
    const b = parser.line(l, n)
    if (b) blocks.push(b)
  }, n => parser.truncated(n))
  const b = parser.end()
  if (b) blocks.push(b)
  return { blocks, problems }
}

/** A seeded random source, so a failure names an iteration that replays. */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0
    s = (s ^ (s >>> 13)) >>> 0
    return s / 4294967296
  }
}

/** One block of system text after a header. */
export function block(body: string, ts = '2026-02-25T14:03:12Z') {
  const { blocks, problems } = parseSys(`===== ${ts} =====\n${body}\n`)
  return { sample: blocks[0]!.sample, events: blocks[0]!.events, problems }
}

export function memtrace(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
