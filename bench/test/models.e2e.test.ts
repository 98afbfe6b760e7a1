/**
 * `memtrace bench models` end to end against the Ollama stand-in (not Ollama:
 * its runners hold a share of a model's memory and unload at once).
 */
import t from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { benchStepSchema, type BenchStep } from '../../schemas/index.js'
import { standinHost } from './standin-host.js'
import { memtrace } from '../../core/test/helpers.js'

t.test('clean runs: smallest first, unloaded between, a missing model skipped after one restart', async t => {
  const dir = t.testdir({ 'prompts.txt': 'Say hello.\n\nWrite a haiku about memory.\n' })
  // qwen2.5-coder:7b fails to load on a server that loaded a model before (seed 003's EOF); unloads take 300 ms.
  const { env } = standinHost(dir, ['qwen2.5-coder:7b', 'llama3.2:3b', 'llama3.3:70b'], { OLLAMA_STANDIN_FAIL_LOADS: 'qwen2.5-coder:7b', OLLAMA_STANDIN_UNLOAD_MS: '300' })
  const out = join(dir, 'out')
  const r = memtrace(['bench', 'models', 'qwen2.5-coder:7b', 'llama3.3:70b', 'llama3.2:3b', 'nope:1b', '--prompts', join(dir, 'prompts.txt'), '--requests', '2', '--cooldown', '100ms', '--num-predict', '8', '--settle', '2s', '--out', out], { env })
  t.equal(r.code, 0, r.stderr)
  const steps = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as BenchStep)
  const validate = new Ajv({ strict: false }).compile(benchStepSchema)
  for (const s of steps) t.ok(validate(s), JSON.stringify(validate.errors))
  t.same(steps.map(s => s.model), ['llama3.2:3b', 'qwen2.5-coder:7b', 'llama3.3:70b', 'nope:1b'], 'smallest first by the manifests; the unknown last')
  t.match(r.stderr, /llama3\.3:70b: the plan says it will not fit beside what is in use: a fresh server first/, '42 GB of weights on a host of this size')
  for (const s of steps.slice(0, 3)) {
    t.equal(s.outcome, 'ok')
    t.ok((s.unloadMs ?? -1) >= 300, `${s.model}: unloaded in ${s.unloadMs} ms, /api/ps empty and the runner gone`)
    t.equal(s.notGivenBackBytes, (s.memAfterBytes ?? 0) - (s.memBeforeBytes ?? 0))
    t.ok((s.rssPeakBytes ?? 0) > 0, 'its runner in the trace')
  }
  t.same(steps.slice(0, 3).map(s => s.retried), [false, true, false], 'the EOF load of qwen2.5-coder:7b restarted the server, and the second try loaded')
  t.same(steps.map(s => s.restarted), [false, false, true, false], 'the restart before llama3.3:70b is in the results, not only on stderr')
  for (const s of steps.slice(0, 3)) t.equal(s.notGivenBack, (s.notGivenBackBytes ?? 0) > 256 * 2 ** 20, `${s.model}: flagged only beyond 256 MiB`)
  t.match(r.stderr, /qwen2\.5-coder:7b: the load failed \(HTTP 500: do load request: Post "http:\/\/127\.0\.0\.1:\d+\/load": EOF\)/)
  t.match(steps[3]?.outcome, /^skipped: HTTP 404: model 'nope:1b' not found.* \(not pulled\)$/)
  t.equal(steps[3]?.retried, false, 'a model not pulled is skipped as it is: a restart would not pull it')
  const md = readFileSync(join(out, 'results.md'), 'utf8')
  t.match(md, /\| 4 \| nope:1b \| .* \| skipped: HTTP 404: model 'nope:1b' not found.*\(not pulled\) \|/)
  const log = readFileSync(join(out, 'trace', readdirSync(join(out, 'trace')).find(f => f.startsWith('system-memtrace-')) as string), 'utf8')
  t.equal((log.match(/"text":"model [^"]+"/g) ?? []).length, 4, 'a marker per model')
  t.equal((log.match(/"text":"llama3\.3:70b will not fit: restart"/g) ?? []).length, 1, 'the restart is a marker on the chart')
  t.equal((log.match(/"text":"qwen2\.5-coder:7b failed to load: restart"/g) ?? []).length, 1)
  t.match(md, /\| llama3\.3:70b \| .* \(a fresh server first: the plan said it would not fit\) \|$/m)
  t.notMatch(readFileSync(join(out, 'memory.svg'), 'utf8'), /did not answer/, "memtrace's own restarts are markers")
  t.ok(readdirSync(out).includes('results.svg') && readdirSync(out).includes('memory.svg'))
  writeFileSync(join(dir, 'empty.txt'), '\n')
  const bad = memtrace(['bench', 'models', 'x:1b', '--prompts', join(dir, 'empty.txt'), '--out', join(dir, 'out2')], { env })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /holds no prompt/)
})
