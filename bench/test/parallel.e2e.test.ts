/**
 * `memtrace bench parallel` end to end against the Ollama stand-in (not
 * Ollama: it serves concurrent requests at a fixed pace, so per-request speed
 * holds and throughput grows with P).
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { benchStepSchema, type BenchStep, type PlanRecord } from '../../schemas/index.js'
import { standinHost } from './standin-host.js'
import { memtrace } from '../../core/test/helpers.js'
import { parseSvg } from '../../render/test/xml.js'

const standin = (dir: string) => standinHost(dir, ['qwen2.5-coder:7b']).env

const read = (out: string) => readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as BenchStep)

t.test('P = 1 … 3 against a managed server: throughput, TTFT, the verdict, a marker per step', async t => {
  const dir = t.testdir({})
  const env = standin(dir)
  const out = join(dir, 'out')
  const r = memtrace(['bench', 'parallel', '--model', 'qwen2.5-coder:7b', '--max-parallel', '3', '--num-parallel', '4', '--requests', '2', '--cooldown', '200ms', '--num-predict', '12', '--out', out], { env })
  t.equal(r.code, 0, r.stderr)
  const steps = read(out)
  const validate = new Ajv({ strict: false }).compile(benchStepSchema)
  for (const s of steps) t.ok(validate(s), JSON.stringify(validate.errors))
  t.same(steps.map(s => s.step), [1, 2, 3])
  for (const s of steps) {
    t.equal(s.requests, 2 * s.step, `P=${s.step}: two rounds of ${s.step}`)
    t.ok((s.ttftMaxMs ?? 0) >= (s.ttftP50Ms ?? Infinity), 'the longest TTFT is no shorter than the median')
    t.ok((s.ttftP99Ms ?? 0) >= (s.ttftP95Ms ?? Infinity) && (s.ttftP95Ms ?? 0) >= (s.ttftP50Ms ?? Infinity), 'TTFT p50 ≤ p95 ≤ p99')
    t.ok((s.e2eP50Ms ?? 0) > (s.ttftP50Ms ?? Infinity), 'a request ends after its first token')
    t.ok((s.tpotP50Ms ?? 0) > 0 && (s.itlP50Ms ?? 0) >= 0, `P=${s.step}: time per output token ${s.tpotP50Ms?.toFixed(1)} ms, inter-token ${s.itlP50Ms?.toFixed(1)} ms`)
  }
  const total = steps.map(s => s.totalTps ?? 0)
  t.ok(total[2]! > total[0]! * 2, `throughput grows with P on the stand-in: ${total.map(v => v.toFixed(1)).join(', ')}`)
  const md = readFileSync(join(out, 'results.md'), 'utf8')
  t.equal((md.match(/^\| [123] \| \d+\.\d ± /gm) ?? []).length, 3, 'one row per P')
  t.match(md, /^\| P \| TTFT \| TPOT \| ITL \| E2E \|$/m, 'and a latency table')
  t.equal((md.match(/^\| [123] \| \d+ \/ \d+ \/ \d+ \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \| \d+ \/ \d+ \/ \d+ \|$/gm) ?? []).length, 3, 'p50 / p95 / p99 of each, per P')
  // Named only on a quiet host; on a busy one nothing is, and that is said.
  const busy = steps.filter(s => Math.max(s.otherCpuPct ?? 0, s.otherCpuPctBefore ?? 0) > 25)
  if (busy.length === 0) {
    t.same(steps.find(s => s.verdict?.includes('peak'))?.step, 3, 'the peak is at P=3')
    t.notOk(steps.some(s => s.verdict?.includes('cliff')), 'no cliff: per-request speed holds')
    t.match(md, /No cliff .*; throughput peak at P=3/)
  } else {
    t.notOk(steps.some(s => s.verdict), 'nothing named on a busy host')
    t.match(md, new RegExp(`^Nothing named: the host was busy \\(other processes used \\d+ % of the CPU at P ${busy[0]?.step}`, 'm'))
  }
  // The whole runner against the plan for the server's 4 slots (the simulated runner holds 2 % of it, so the error is large).
  const plan = JSON.parse(memtrace(['plan', 'qwen2.5-coder:7b', '--num-ctx', '4096', '--num-parallel', '4', '--json'], { env }).stdout) as PlanRecord
  const predicted = ((plan.weightsBytes + 4 * plan.kvBytesPerSlot + plan.computeBytes) / 2 ** 30).toFixed(2)
  t.match(md, new RegExp(`^Runner: measured \\d+ MiB \\(its RSS at P=1, idle after the warm-up\\), predicted ${predicted.replace('.', '\\.')} GiB by \`memtrace plan\` for 4 slots of 4096 [^;]*\\(error \\+\\d+%\\);`, 'm'))
  // Beside the plan, what the server's log says: 0.30 predicts aloud only beside other models; the allocation is llama.cpp's buffer lines, summed.
  const kept = readFileSync(join(out, 'trace', readdirSync(join(out, 'trace')).find(f => f.startsWith('ollama-server-memtrace-')) as string), 'utf8')
  const buffers = [...kept.matchAll(/ buffer size = +([\d.]+) MiB$/gm)].map(m => Number(m[1]) * 2 ** 20)
  t.ok(buffers.length >= 3, `the runner's buffer lines are kept: ${buffers.length}`)
  const allocated = /the server's log says ([\d.]+) (GiB|MiB) was allocated \(plan's error [+−]\d+%\)\./.exec(md)
  t.ok(allocated, md)
  t.equal(Number(allocated?.[1]).toFixed(1), (buffers.reduce((a, b) => a + b, 0) / (allocated?.[2] === 'GiB' ? 2 ** 30 : 2 ** 20)).toFixed(1), 'the allocation is the sum of the buffers the log printed')
  t.match(md, /Ollama's log gave no prediction/)
  const log = readFileSync(join(out, 'trace', readdirSync(join(out, 'trace')).find(f => f.startsWith('system-memtrace-')) as string), 'utf8')
  t.same((log.match(/"text":"P=\d"/g) ?? []).sort(), ['"text":"P=1"', '"text":"P=2"', '"text":"P=3"'])
  const svg = parseSvg(readFileSync(join(out, 'results.svg'), 'utf8'))
  t.equal(svg.querySelectorAll('rect[fill="#b35c00"]').length, 3, 'a throughput point per P')
  t.ok(readFileSync(join(out, 'memory.svg'), 'utf8').includes('P=2'), 'the memory chart carries the markers')
})

t.test('a model that does not load is a result, not a crash; one the server does not have is said', async t => {
  const dir = t.testdir({})
  const env = standin(dir)
  const out = join(dir, 'out')
  // The stand-in's runner takes about a second to load: a 100 ms limit is seed 001's load that never finished.
  const r = memtrace(['bench', 'parallel', '--model', 'qwen2.5-coder:7b', '--max-parallel', '2', '--num-parallel', '2', '--requests', '1', '--load-timeout', '100ms', '--out', out], { env })
  t.equal(r.code, 0, r.stderr)
  const steps = read(out)
  t.equal(steps.length, 1)
  t.equal(steps[0]?.outcome, 'did not load: no answer within --load-timeout (100 ms)')
  t.match(readFileSync(join(out, 'results.md'), 'utf8'), /did not load/)
  const missing = memtrace(['bench', 'parallel', '--model', 'nope:1b', '--num-parallel', '2', '--out', join(dir, 'out2')], { env })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /nope:1b: HTTP 404: model 'nope:1b' not found.*\(pull it first\)/)
  const none = memtrace(['bench', 'parallel', '--model', 'qwen2.5-coder:7b', '--out', join(dir, 'out3')], { env })
  t.equal(none.code, 2)
  t.match(none.stderr, /no Ollama answered at http:\/\/127\.0\.0\.1:9/)
})
