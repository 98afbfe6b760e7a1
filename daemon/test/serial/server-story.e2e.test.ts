/**
 * End to end, as a user runs it: `memtrace start` beside the stand-in, a
 * model switch that forces an eviction, a runner killed; `memtrace render
 * --dir` then says why: the eviction with its prediction and free figure,
 * the kill with its PID and RSS, and prediction against allocation against
 * RSS for each runner, in the findings, the report and --json.
 */
import t from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exited, foreground, memtrace, sleep, standinServer, traceFiles } from '../helpers.js'

t.test('an eviction and a kill, told by the server log beside the measured memory', async t => {
  const s = await standinServer(t, { OLLAMA_STANDIN_RUNNER: 'simulated', OLLAMA_STANDIN_MEMORY_BUDGET: String(8 * 2 ** 30) }, ['phi4:14b', 'qwen3:8b'])
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', s.url, '--system-interval', '1s', '--server-log', s.logPath], s.env)
  await sleep(1500)
  await s.post({ model: 'phi4:14b', prompt: 'hi' })
  await sleep(2500)
  // qwen3:8b does not fit beside phi4:14b in 8 GiB: the stand-in evicts it, as Ollama 0.30 does, and says so.
  await s.post({ model: 'qwen3:8b', prompt: 'hi' })
  await sleep(2500)
  const victim = Number(s.runners()[0]?.trim().split(' ')[0])
  process.kill(victim, 'SIGKILL')
  await sleep(2500)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  // The daemon traces every Ollama on the machine, other tests' stand-ins too: the story is this server's.
  const procPath = traceFiles(trace).proc
  const ours = (l: string) => [l.split('\t')[1], l.split('\t')[2]].includes(String(s.server.pid))
  const rows = readFileSync(procPath, 'utf8').split('\n')
  writeFileSync(procPath, [rows[0], ...rows.slice(1).filter(l => l && ours(l))].join('\n') + '\n')

  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', '--dir', trace, '--out', out, '--report', join(dir, 'report.md'), '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  const evicted = new RegExp(`^\\d+\\. Ollama evicted runner PID (\\d+) for phi4:14b at [\\d:]+ to load qwen3:8b: it predicted ([\\d.]+) GiB against ([\\d.]+) GiB available, limited by system memory`, 'm').exec(r.stdout)
  t.ok(evicted, `the eviction, with the runner it evicted, the prediction and the free figure:\n${r.stdout}`)
  t.match(r.stdout, new RegExp(`Ollama's log says runner PID ${victim} for qwen3:8b was killed \\(signal: killed\\) at [\\d:]+: it held [\\d.]+ GiB RSS at its last sample`), 'the kill, with its PID and RSS')

  const json = memtrace(['render', '--dir', trace, '--out', join(dir, 'again.svg'), '--json', '--tz', 'UTC'])
  t.equal(json.code, 0, json.stderr)
  const records = json.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
  const eviction = records.find(x => x.record === 'finding' && x.kind === 'eviction') as { figures: Record<string, number> } | undefined
  t.ok(eviction, 'the eviction in --json')
  // The figures are the log's own: what the stand-in printed on its eviction line.
  const line = readFileSync(s.logPath, 'utf8').split('\n').find(l => l.includes('predicted to exceed available memory, evicting')) as string
  const UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }
  const printed = (key: string) => {
    const m = /^"([\d.]+) (B|KiB|MiB|GiB)"/.exec(line.split(` ${key}=`)[1] ?? '') ?? ['', 'NaN', 'B']
    return Number(m[1]) * (UNITS[m[2] as string] as number)
  }
  // Exact to the byte: "6.3 GiB" is 63 × 2^30 / 10.
  t.ok(Math.abs((eviction?.figures.predictedBytes ?? NaN) - printed('predicted')) < 1, 'the prediction as printed')
  t.ok(Math.abs((eviction?.figures.availableBytes ?? NaN) - printed('available')) < 1, 'the free figure as printed')
  t.equal(Number(evicted?.[2]).toFixed(1), (printed('predicted') / 2 ** 30).toFixed(1))

  const runners = records.filter(x => x.record === 'runner-memory') as { pid: number; model: string; predictedBytes?: number; rssBytes: number; errorPct?: number }[]
  t.equal(runners.length, 2, 'one record per runner')
  // Ollama 0.30 predicts aloud only when other models are loaded: the first load has no line of it.
  const second = runners.find(x => x.model === 'qwen3:8b')
  t.ok(Math.abs((second?.predictedBytes ?? NaN) - printed('predicted')) < 1, "the second runner's prediction, from the eviction line")
  t.match(second, { errorAgainst: /^(?:allocated|measured)$/, errorPct: Number }, 'and its error')
  for (const x of runners) t.ok(x.rssBytes > 0, `${x.model}: its measured RSS`)
  // What the runner's llama.cpp lines say it allocated, copied into the server's log: the sum of its buffers.
  const kept = readFileSync(join(trace, readdirSync(trace).find(f => f.startsWith('ollama-server-memtrace-')) as string), 'utf8')
  const starts = kept.split('\n').map((l, i) => (l.includes('msg="starting llama-server"') ? i : -1)).filter(i => i >= 0)
  t.equal(starts.length, 2, 'two loads in the kept log')
  const sum = (from: number, to: number) =>
    kept
      .split('\n')
      .slice(from, to)
      .map(l => / buffer size = +([\d.]+) MiB$/.exec(l))
      .reduce((a, m) => a + (m ? Number(m[1]) * 2 ** 20 : 0), 0)
  const byOrder = [...runners].sort((a, b) => (a.model === 'phi4:14b' ? -1 : b.model === 'phi4:14b' ? 1 : 0))
  t.ok(Math.abs((byOrder[0] as { allocatedBytes?: number }).allocatedBytes! - sum(starts[0] as number, starts[1] as number)) < 1, 'phi4:14b: allocated as its buffer lines say')
  t.ok(Math.abs((byOrder[1] as { allocatedBytes?: number }).allocatedBytes! - sum(starts[1] as number, Infinity)) < 1, 'qwen3:8b: allocated as its buffer lines say')
  const rssOf = (pid: number) => {
    const rows = readFileSync(traceFiles(trace).proc, 'utf8').split('\n').filter(l => l.split('\t')[1] === String(pid))
    return Math.max(...rows.map(l => Number(l.split('\t')[4]) * 1024))
  }
  for (const x of runners) t.equal(x.rssBytes, rssOf(x.pid), `${x.model}: the RSS is the trace's own peak`)

  const report = readFileSync(join(dir, 'report.md'), 'utf8')
  t.match(report, /\| model \| pid \| first seen \| last seen \| peak RSS \| Ollama's figure \| predicted \| allocated \| error \|/)
  t.match(report, /- Server: Ollama 0\.30\.0-standin; NUM\\_PARALLEL 1/)
  const svg = readFileSync(out, 'utf8')
  t.match(svg, /class="marker server"[^>]*>(?:(?!<\/g>).)*evicted/s, 'the eviction on the time axis')
  t.match(svg, /class="marker server"[^>]*>(?:(?!<\/g>).)*killed/s, 'the kill on the time axis')
})
