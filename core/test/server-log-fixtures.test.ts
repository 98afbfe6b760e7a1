// Real server logs people pasted (fixtures/server-log/README.md says where each comes from): each
// figure read exactly, each unreadable line reported, nothing else read. 0 wrong, 0 crashes.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { ServerEvent } from '../../schemas/index.js'
import { ProblemLog } from '../parse/problems.js'
import { ServerLogParser } from '../parse/server-log.js'
import { FIXTURES } from './helpers.js'

interface Expected {
  line: number
  lastLine?: number
  kind: string
  ts?: string
  model?: string
  figures?: Record<string, unknown>
  [key: string]: unknown
}

const DIR = join(FIXTURES, 'server-log')
/** Keys of an expected record compared as they are. */
const SAME = ['kind', 'lastLine', 'device', 'onDevice', 'component', 'library', 'signal', 'exitCode', 'operation', 'process', 'cgroup']

/** The event's figures under the fixtures' names: lists per GPU, and the event's own pid, port, settings and flags. */
function figuresOf(e: ServerEvent): Record<string, unknown> {
  const f: Record<string, unknown> = { ...e.figures }
  if (f.availablePerGpuBytes) f.availableBytes = f.availablePerGpuBytes
  if (f.allocationsPerGpuBytes) f.allocationsBytes = f.allocationsPerGpuBytes
  for (const k of ['systemLimited', 'pid', 'port'] as const) if (e[k] !== undefined) f[k] = e[k]
  Object.assign(f, e.settings)
  return f
}

const files = readdirSync(DIR).filter(f => f.endsWith('.txt')).sort()

t.test('there is a fixture for every shape the issue names', async t => {
  t.ok(files.length >= 20, `${files.length} fixtures`)
  const kinds = new Set(files.flatMap(f => (JSON.parse(readFileSync(join(DIR, f.replace(/\.txt$/, '.expect.json')), 'utf8')) as Expected[]).map(e => e.kind)))
  for (const k of ['estimate', 'load-request', 'allocation', 'eviction', 'fits', 'retry', 'oom', 'load-failed', 'runner-starting', 'runner-started', 'runner-stopped', 'system-memory', 'gpu-memory', 'peak-memory', 'working-set', 'server-config', 'kernel-oom-kill', 'problem']) {
    t.ok(kinds.has(k), k)
  }
})

for (const file of files) {
  t.test(file, async t => {
    const text = readFileSync(join(DIR, file), 'utf8')
    const expected = JSON.parse(readFileSync(join(DIR, file.replace(/\.txt$/, '.expect.json')), 'utf8')) as Expected[]
    const problems = new ProblemLog()
    const problemLines = new Set<number>()
    problems.onProblem(p => problemLines.add(p.line))
    const parser = new ServerLogParser(file, problems)
    const events: ServerEvent[] = []
    text.split('\n').forEach((l, i) => events.push(...parser.line(l, i + 1)))
    events.push(...parser.end())
    const byLine = new Map(events.map(e => [e.line, e]))
    for (const want of expected) {
      const where = `line ${want.line}: ${want.kind}`
      if (want.kind === 'problem') {
        t.ok(problemLines.has(want.line), `${where} (${String(want.reason)})`)
        t.notOk(byLine.has(want.line), `${where}: and no figure from it`)
        continue
      }
      const got = byLine.get(want.line)
      if (!got) {
        t.fail(`${where}: not read`)
        continue
      }
      for (const k of SAME) if (want[k] !== undefined) t.equal(got[k as keyof ServerEvent], want[k], `${where}: ${k}`)
      // A time with a zone is an instant; the journal's has no year, Go's standard logger's no zone: only the clock is kept.
      if (want.ts === 'journal' || (want.ts && !/(?:Z|[+-]\d\d:\d\d)$/.test(want.ts))) t.ok(got.clock && !got.ts, `${where}: a clock, no instant`)
      else if (want.ts) t.equal(got.ts, want.ts, `${where}: ts`)
      else t.notOk(got.ts ?? got.clock, `${where}: no time is made up`)
      // A runner's model is kept as its blob, never its path (a home directory names a user).
      if (want.model !== undefined) t.ok(got.model !== undefined && (want.model === got.model || want.model.endsWith(got.model)), `${where}: model ${got.model}`)
      const figures = figuresOf(got)
      for (const [k, v] of Object.entries(want.figures ?? {})) t.same(figures[k], v, `${where}: ${k}`)
    }
    // Nothing read that the fixture does not list (the version line is read for the report).
    const listed = new Set(expected.map(e => e.line))
    t.same(events.filter(e => !listed.has(e.line) && e.kind !== 'version').map(e => `${e.line}: ${e.kind}`), [], 'no other line gives a record')
    t.same([...problemLines].filter(n => !listed.has(n)), [], 'no other line is a problem')
  })
}
