/**
 * The server's log beside a trace: each load tied to its runner (by port,
 * blob, time), and the findings that say why, with the log's own figures.
 * The log is fixture 13 (Ollama 0.32's scheduler lines, written from its
 * source) and fixture 12 (a real 0.30 paste); the trace is built around it.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { findFindings } from '../findings/findings.js'
import { makeCtx } from '../findings/context.js'
import { allocatedBy, groupLoads } from '../findings/loads.js'
import { runnerMemory } from '../findings/runner-memory.js'
import { serverMarks } from '../findings/server-marks.js'
import { TraceBuilder } from '../../core/model/trace.js'
import { nameRunners } from '../../core/model/names.js'
import { ProblemLog } from '../../core/parse/problems.js'
import { ServerLogParser } from '../../core/parse/server-log.js'
import type { ServerEvent } from '../../schemas/index.js'
import { parseProc, parseSys, ROOT } from '../../core/test/helpers.js'

const FIXTURES = join(ROOT, 'core', 'test', 'fixtures', 'server-log')
const O = { zone: 'UTC', lowFreePct: 30 }
const MiB = 2 ** 20
const GiB = 2 ** 30

function events(name: string): ServerEvent[] {
  const p = new ServerLogParser(name, new ProblemLog())
  const out: ServerEvent[] = []
  readFileSync(join(FIXTURES, name), 'utf8')
    .split('\n')
    .forEach((l, i) => out.push(...p.line(l, i + 1)))
  return [...out, ...p.end()]
}

const blob = (c: string) => `sha256-${c.repeat(64)}`
const llamaServer = (c: string, port: number) => `/usr/lib/ollama/llama-server --model /root/.ollama/models/blobs/${blob(c)} --port ${port} --host 127.0.0.1 --no-webui -c 4096 -np 1`
const at = (hms: string, day = '2026-08-03') => Date.parse(`${day}T${hms}Z`)
const iso = (ms: number) => new Date(ms).toISOString().replace('.000', '')

interface Proc {
  pid: number
  command: string
  from: string
  to: string
  rssKb: number
}

/** A trace sampled every second, with system samples every 5 s (macOS's free %). */
function trace(procs: Proc[], from: string, to: string, day?: string) {
  let p = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  let s = ''
  for (let ms = at(from, day); ms <= at(to, day); ms += 1000) {
    p += `${iso(ms)}\t100\t1\tollama\t60000\t1\t/usr/bin/ollama serve\n`
    for (const x of procs) if (ms >= at(x.from, day) && ms <= at(x.to, day)) p += `${iso(ms)}\t${x.pid}\t100\tllama-server\t${x.rssKb}\t1\t${x.command}\n`
    if ((ms / 1000) % 5 === 0) s += `===== ${iso(ms)} =====\nThe system has 34359738368 (2097152 pages with a page size of 16384).\nSystem-wide memory free percentage: 45%\n\n`
  }
  const b = new TraceBuilder()
  for (const r of parseProc(p).rows) b.addProc(r)
  for (const blk of parseSys(s).blocks) b.addSystem(blk)
  const tr = b.finish()
  nameRunners(tr)
  return tr
}

const procs: Proc[] = [
  { pid: 200, command: llamaServer('c', 39999), from: '09:13:30', to: '09:14:02', rssKb: 3_000_000 },
  { pid: 300, command: llamaServer('a', 40123), from: '09:14:04', to: '09:20:40', rssKb: 2_500_000 },
  { pid: 400, command: llamaServer('b', 41877), from: '09:20:42', to: '09:20:44', rssKb: 900_000 },
  { pid: 500, command: llamaServer('e', 42000), from: '09:30:00', to: '09:45:12', rssKb: 4_000_000 },
]

t.test('each load ties to its runner by port; what llama.cpp allocated is summed by device', async t => {
  const tr = trace(procs, '09:13:30', '09:46:00')
  const ctx = makeCtx(tr, { ...O, server: events('13-scheduler-decisions-from-source-0.13-0.32.txt') })
  const loads = ctx.server?.loads ?? []
  const a = loads.find(l => l.blob === blob('a'))
  t.equal(a?.runner?.pid, 300, 'the load of blob a is runner 300')
  t.equal(a?.tiedBy, 'port')
  t.equal(a?.decisions.map(e => e.kind).join(), 'eviction,fits', 'with the two decisions before its start')
  // CUDA0 model 1918.35 + KV 448.00 + compute 256.50 MiB on the GPU; CPU_Mapped 308.23 + CUDA_Host 16.01 MiB in system RAM.
  const alloc = a && allocatedBy(a)
  t.equal(alloc?.deviceBytes, (191835 * MiB) / 100 + 448 * MiB + (25650 * MiB) / 100)
  t.equal(alloc?.systemBytes, (30823 * MiB) / 100 + (1601 * MiB) / 100)
  t.equal(alloc?.from, 'buffers')
  const b = loads.find(l => l.blob === blob('b'))
  t.equal(b?.runner?.pid, 400)
  t.same(b?.failed.map(e => e.kind), ['load-failed', 'oom'], 'its failure, and the runtime OOM that names its blob')
  t.equal(b?.retries.length, 1)
  t.notOk(loads.some(l => l.runner?.pid === 200 || l.runner?.pid === 500), 'runners with no start line in the log stay untied')

  const records = runnerMemory(ctx)
  if (process.env.SHOW_FINDINGS) process.stderr.write(`${JSON.stringify(records)}\n`)
  t.same(records.map(r => r.pid), [200, 300, 400, 500], 'one record per runner')
  const r300 = records.find(r => r.pid === 300)
  t.match(r300, { model: blob('a').slice(0, 19), tiedBy: 'port', predictedBytes: (63 * GiB) / 10, allocatedBytes: (alloc?.deviceBytes ?? 0) + (alloc?.systemBytes ?? 0), rssBytes: 2_500_000 * 1024, errorAgainst: 'allocated' })
  t.equal(r300?.errorPct, Math.round((((63 * GiB) / 10 - (r300?.allocatedBytes ?? 0)) / (r300?.allocatedBytes ?? 1)) * 1000) / 10, 'the error against the allocation')
})

t.test('the findings say why, with the figures of the lines they name', async t => {
  const tr = trace(procs, '09:13:30', '09:46:00')
  const f = findFindings(tr, { ...O, server: events('13-scheduler-decisions-from-source-0.13-0.32.txt') })
  if (process.env.SHOW_FINDINGS) for (const x of f) process.stderr.write(`${x.kind}: ${x.text}\n`)
  const of = (kind: string) => f.filter(x => x.kind === kind)
  const kinds = f.map(x => x.kind)
  t.ok(kinds.indexOf('runner-killed') < kinds.indexOf('load-failed') && kinds.indexOf('load-failed') < kinds.indexOf('eviction') && kinds.indexOf('eviction') < kinds.indexOf('prediction-off'), `ranked by what they did: ${kinds.join(', ')}`)

  const [killed] = of('runner-killed')
  t.match(killed?.text, /^Ollama's log says runner PID 500 for sha256-eeeeeeeeeeee was killed \(signal: killed\) at 09:45:12: it held 3\.8 GiB RSS at its last sample, 09:45:12\. SIGKILL is the OOM killer's signal, but the trace holds no OOM kill for it/)
  t.same(killed?.pids, [500])
  t.equal(killed?.figures?.rssBytes, 4_000_000 * 1024)

  const [ev] = of('eviction')
  t.equal(ev?.text, 'Ollama evicted runner PID 200 for sha256-cccccccccccc at 09:14:02 to load sha256-aaaaaaaaaaaa: it predicted 6.3 GiB against 7.2 GiB available, limited by system memory (7.2 GiB free; the GPU had 14.8 GiB free).')
  t.same(ev?.figures, { predictedBytes: (63 * GiB) / 10, availableBytes: (72 * GiB) / 10, systemFreeBytes: (72 * GiB) / 10, gpuFreeBytes: (148 * GiB) / 10 })
  t.same(ev?.pids, [200, 300], 'the evicted runner, and the one loaded')

  const failed = of('load-failed')
  t.match(failed[0]?.text, /^Loading sha256-bbbbbbbbbbbb failed at 09:20:44: llama-server reported out-of-memory during startup: cudaMalloc failed: out of memory\. Ollama retried with the context cut from 32768 to 16384, evicting every other model first\.$/)
  t.same(failed[0]?.figures, { oldNumCtx: 32768, newNumCtx: 16384 })
  t.ok(failed.some(x => /^Loading sha256-dddddddddddd failed at 09:31:05: llama-server reported out-of-memory/.test(x.text)), 'the retry of a model with no start line is its own')
  t.ok(failed.some(x => /^The runner for sha256-bbbbbbbbbbbb ran out of memory while running, at 09:45:12: CUDA error: out of memory;/.test(x.text)), 'the runtime OOM')

  const [off] = of('prediction-off')
  t.match(off?.text, /^Ollama predicted 6\.3 GiB for runner PID 300 for sha256-aaaaaaaaaaaa at 09:14:03, but it allocated 2\.9 GiB \(0\.3 GiB in system RAM, 2\.6 GiB on the GPU\) and held 2\.4 GiB RSS at most: the prediction was \+1\d\d % off, too high/)
  t.notOk(f.some(x => x.start < '2026-08-03T09:13'), 'lines from before the trace (the 2025 ones) make no finding')
})

t.test('the decisions as marks on the time axis, and nothing outside the trace', async t => {
  const tr = trace(procs, '09:13:30', '09:46:00')
  const marks = serverMarks(makeCtx(tr, { ...O, server: events('13-scheduler-decisions-from-source-0.13-0.32.txt') }))
  t.same(
    marks.map(m => [iso(m.ms - (m.ms % 1000)), m.label]),
    [
      ['2026-08-03T09:14:02Z', 'evicted sha256-cccccccccccc'],
      ['2026-08-03T09:14:03Z', 'fits'],
      ['2026-08-03T09:20:44Z', 'load failed'],
      ['2026-08-03T09:20:44Z', 'context 32768→16384'],
      ['2026-08-03T09:20:44Z', 'OOM retry'],
      ['2026-08-03T09:31:05Z', 'OOM retry'],
      ['2026-08-03T09:45:12Z', 'killed sha256-eeeeeeeeeeee'],
      ['2026-08-03T09:45:12Z', 'runtime OOM'],
    ],
  )
})

t.test('a real 0.30 paste: the runner tied by port, its allocation read from llama.cpp lines', async t => {
  const es = events('12-llama-server-0.30-0.32-real.txt')
  const loads = groupLoads(es)
  const first = loads.find(l => l.starting?.port === 37851)
  t.ok(first, 'the first start of the paste is a load')
  t.equal(first?.blob, 'sha256-90a618fe6ff21b09ca968df959104eb650658b0bef0faef785c18c2795d993e3')
})

t.test('MLX (0.32): the scheduler line ties by PID, a start by port; a model beyond the working set is a finding', async t => {
  const es = events('15-mlx-0.32.txt')
  // The log's clock is -03:00: 12:41:18 there is 15:41:18 UTC.
  const gemma = trace([{ pid: 50936, command: 'ollama runner --mlx-engine --model gemma4:31b-mlx --port 64523', from: '15:41:16', to: '15:42:30', rssKb: 900_000 }], '15:41:00', '15:43:00', '2026-08-15')
  const g = makeCtx(gemma, { ...O, server: es })
  const load = g.server?.loads.find(l => l.runner?.pid === 50936)
  t.equal(load?.tiedBy, 'pid', "the scheduler's `finished setting up` names the runner's PID")
  t.same(runnerMemory(g).find(r => r.pid === 50936), { record: 'runner-memory', pid: 50936, model: 'gemma4:31b-mlx', firstSeen: '2026-08-15T15:41:16Z', lastSeen: '2026-08-15T15:42:30Z', tiedBy: 'pid', allocatedBytes: (173 * GiB) / 10, allocatedSystemBytes: 0, allocatedGpuBytes: (173 * GiB) / 10, rssBytes: 900_000 * 1024 })

  const qwen = trace([{ pid: 51990, command: 'ollama runner --mlx-engine --model qwen3.6:35b-mlx-64k --port 51872', from: '13:02:12', to: '13:03:00', rssKb: 1_200_000 }], '13:02:00', '13:03:10', '2026-08-16')
  const f = findFindings(qwen, { ...O, server: es })
  const ws = f.find(x => x.kind === 'working-set')
  t.equal(ws?.text, 'At 13:02:19 runner PID 51990 for qwen3.6:35b-mlx-64k had 30.1 GiB active, beyond the 26.8 GiB the GPU recommends as its working set: Ollama warned that performance may be degraded.')
  t.same(ws?.figures, { activeBytes: (3012 * GiB) / 100, recommendedBytes: (2680 * GiB) / 100 })
  t.same(ws?.pids, [51990], 'tied by the port of its start line')
})
