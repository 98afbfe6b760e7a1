import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
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
    const sys = files.find(f => f.startsWith('system-') && f.endsWith('.log')) as string
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

t.test('a block of amd-smi output validates: its section and its GPUs\' source are in the schema', async t => {
  const fixture = (name: string) => readFileSync(join(ROOT, 'core', 'test', 'fixtures', 'system', 'amd-smi', name), 'utf8')
  const dir = t.testdir({
    'p.tsv': 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n2026-02-25T14:03:12Z\t1\t0\tollama\t1\t1\tollama serve\n',
    's.log': `===== 2026-02-25T14:03:12Z =====\n${fixture('metric-two-gpus.txt')}`,
  })
  const r = memtrace(['parse', join(dir, 'p.tsv'), join(dir, 's.log')])
  t.equal(r.code, 0, r.stderr)
  const counts = validateLines(t, r.stdout)
  t.same(counts, { 'process-sample': 1, 'system-sample': 1, process: 1 })
  t.match(r.stdout, /"source":"amd-smi"/)
})

t.test('memtrace schema prints each schema', async t => {
  const r = memtrace(['schema', 'process-sample'])
  t.equal(r.code, 0)
  t.equal(JSON.parse(r.stdout).title, 'process-sample')
  t.equal(memtrace(['schema', 'nope']).code, 1)
})

t.test('memtrace parse --server-log: every server-event validates, alone or beside the traces', async t => {
  const log = [
    'May 14 09:12:03 gpu-box ollama[812]: time=2025-05-14T09:12:03.123+02:00 level=INFO source=server.go:135 msg="system memory" total="31.3 GiB" free="27.9 GiB" free_swap="0 B"',
    'time=2025-05-14T09:12:04Z level=INFO source=memory.go:326 msg=offload library=cuda layers.model=29 layers.offload=10 memory.available="[10.3 GiB 10.3 GiB]" memory.required.full="5.1 GiB" memory.required.allocations="[2.6 GiB 2.5 GiB]"',
    'time=2025-05-14T09:12:05Z level=INFO msg="server config" env="map[OLLAMA_NUM_PARALLEL:4 OLLAMA_KEEP_ALIVE:5m0s]"',
    'llama_kv_cache:      CUDA0 KV buffer size =  1920.00 MiB',
    '[12345.678901] Out of memory: Killed process 4412 (llama-server) total-vm:41234567kB, anon-rss:31981234kB, file-rss:1024kB, shmem-rss:0kB, UID:0',
    'time=2025-05-14T09:12:05Z level=INFO msg="model weights" device=CUDA0 size="N/A"',
  ].join('\n')
  const dir = t.testdir({ 'server.log': log })
  const alone = memtrace(['parse', '--server-log', join(dir, 'server.log')])
  t.equal(alone.code, 0, alone.stderr)
  t.same(validateLines(t, alone.stdout), { 'server-event': 5, problem: 1 })
  const sample = join(ROOT, 'samples', 'seed-loops')
  const files = readdirSync(sample)
  const both = memtrace(['parse', join(sample, files.find(f => f.endsWith('.tsv'))!), join(sample, files.find(f => f.startsWith('system-') && f.endsWith('.log'))!), '--server-log', join(dir, 'server.log')])
  t.equal(both.code, 0, both.stderr)
  t.equal(validateLines(t, both.stdout)['server-event'], 5)
  t.equal(JSON.parse(memtrace(['schema', 'server-event']).stdout).title, 'server-event')
  const missing = memtrace(['parse', '--server-log', join(dir, 'nope.log')])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /cannot read .*nope\.log: no such file/)
})
