import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { SCHEMAS } from '../../schemas/index.js'
import { memtrace, ROOT } from '../../core/test/helpers.js'

const ajv = new Ajv({ allErrors: true, strict: true })
const validators = Object.fromEntries(Object.entries(SCHEMAS).map(([name, s]) => [name, ajv.compile(s)]))

function validateLines(t: { fail: (msg: string) => void }, stdout: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const line of stdout.split('\n')) {
    if (!line) continue
    const rec = JSON.parse(line) as { record: string }
    const v = validators[rec.record]
    if (!v) {
      t.fail(`unknown record kind ${rec.record}`)
      continue
    }
    if (!v(rec)) t.fail(`${rec.record} does not validate: ${ajv.errorsText(v.errors)}\n${line.slice(0, 300)}`)
    counts[rec.record] = (counts[rec.record] ?? 0) + 1
  }
  return counts
}

for (const entry of readdirSync(join(ROOT, 'samples'), { withFileTypes: true })) {
  if (!entry.isDirectory()) continue
  const name = entry.name
  const dir = join(ROOT, 'samples', name)
  t.test(`memtrace parse ${name}: every record validates against its schema`, async t => {
    const files = readdirSync(dir)
    const proc = files.find(f => f.endsWith('.tsv')) as string
    const sys = files.find(f => f.endsWith('.log')) as string
    const r = memtrace(['parse', join(dir, proc), join(dir, sys)])
    t.equal(r.code, 0, r.stderr)
    const counts = validateLines(t, r.stdout)
    t.ok((counts['process-sample'] ?? 0) > 0, 'process samples')
    t.ok((counts['system-sample'] ?? 0) > 0, 'system samples')
    t.ok((counts.process ?? 0) > 0, 'processes')
  })
}

t.test('problems and events validate too', async t => {
  const dir = t.testdir({
    'p.tsv': 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n2026-02-25T14:03:12Z\t1\t0\tollama\t1\t1\tollama serve\njunk\n2026-02-25T14:03:13Z\t1',
    's.log': '===== 2026-02-25T14:03:12Z =====\nmemtrace marker {"text":"hi"}\n{"models":[{"name":"a:b","model":"a:b","size":1,"digest":"d","details":{"families":null},"expires_at":"2026-02-25T14:08:12Z"}]}\nwhat is this\n',
  })
  const r = memtrace(['parse', join(dir, 'p.tsv'), join(dir, 's.log')])
  t.equal(r.code, 0)
  const counts = validateLines(t, r.stdout)
  t.same(counts, { 'process-sample': 1, 'system-sample': 1, 'trace-event': 1, process: 1, problem: 3 })
})

t.test('memtrace schema prints each schema', async t => {
  const r = memtrace(['schema', 'process-sample'])
  t.equal(r.code, 0)
  t.equal(JSON.parse(r.stdout).title, 'process-sample')
  t.equal(memtrace(['schema', 'nope']).code, 1)
})
