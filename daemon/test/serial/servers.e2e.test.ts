/**
 * Two Ollama servers on one host (one per GPU, or per user), traced by one
 * daemon through the stand-in: each server's runners are grouped under it by
 * the process tree, each server's /api/ps is asked at the address in its own
 * environment, and the findings are worked out per server: the two servers'
 * runners alive together are no overlap, the same model loaded on both is no
 * orphan of either, and two runners of one server are an overlap that names
 * its server, with the combined RSS of that server's runners' own samples.
 */
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exited, foreground, memtrace, sleep, standinServer, traceFiles } from '../helpers.js'

t.test('two servers on one host: runners, listings and findings per server', async t => {
  const simulated = { OLLAMA_STANDIN_RUNNER: 'simulated' }
  const a = await standinServer(t, simulated, ['llama3.2:3b', 'qwen2.5-coder:7b'])
  const b = await standinServer(t, simulated, ['llama3.2:3b'])
  const portA = new URL(a.url).port
  const portB = new URL(b.url).port
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  // Pointed at A only: B is found by its process and its environment's OLLAMA_HOST.
  const d = foreground(['--dir', trace, '--ollama-url', a.url, '--system-interval', '1s'], a.env)
  await sleep(1500)
  await a.post({ model: 'llama3.2:3b', prompt: 'hi' })
  await b.post({ model: 'llama3.2:3b', prompt: 'hi' })
  await sleep(3000)
  await a.post({ model: 'qwen2.5-coder:7b', prompt: 'hi' })
  await sleep(3000)
  const runnersA = a.runners().map(l => Number(l.trim().split(' ')[0]))
  const runnersB = b.runners().map(l => Number(l.trim().split(' ')[0]))
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  t.equal(runnersA.length, 2, 'two runners on A')
  t.equal(runnersB.length, 1, 'one on B')

  const { proc, sys } = traceFiles(trace)
  const log = readFileSync(sys, 'utf8')
  t.match(log, new RegExp(`^memtrace server \\{"pid":${a.server.pid},"address":"127\\.0\\.0\\.1:${portA}","via":"environ"\\}$`, 'm'), "A's address, from its environment")
  t.match(log, new RegExp(`^memtrace server \\{"pid":${b.server.pid},"address":"127\\.0\\.0\\.1:${portB}","via":"environ"\\}$`, 'm'), "B's, though memtrace was pointed at A only")
  // The daemon traces every Ollama on the machine, other tests' stand-ins too: the story is these two servers'.
  const ours = new Set([a.server.pid, b.server.pid].map(String))
  const rows = readFileSync(proc, 'utf8').split('\n')
  const kept = rows.slice(1).filter(l => l && (ours.has(l.split('\t')[1] as string) || ours.has(l.split('\t')[2] as string)))
  writeFileSync(proc, [rows[0], ...kept].join('\n') + '\n')

  const json = memtrace(['render', '--dir', trace, '--out', join(dir, 'chart.svg'), '--json', '--tz', 'UTC', '--report', join(dir, 'report.md')])
  t.equal(json.code, 0, json.stderr)
  const findings = json.stdout
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { record: string; kind: string; pids?: number[]; text: string; figures?: Record<string, number> })
    .filter(x => x.record === 'finding')
  const mixed = findings.filter(f => f.pids?.some(p => runnersA.includes(p)) && f.pids?.some(p => runnersB.includes(p)))
  t.same(mixed, [], "no finding joins one server's runner with the other's")
  t.same(findings.filter(f => f.kind === 'orphan-runner'), [], 'llama3.2:3b, listed by each server for its own runner, is no orphan of the other')
  // Memory stayed ample, so the overlap is a line of the report, not a finding.
  t.same(findings.filter(f => f.kind === 'runner-overlap'), [], 'no overlap finding: memory stayed ample')
  const calm = /^Runners alive together while memory stayed ample[^:]*: (.*)$/m.exec(readFileSync(join(dir, 'report.md'), 'utf8'))?.[1] ?? ''
  const overlaps = calm.split(/(?=At \d\d:\d\d:\d\d, )/).filter(x => x.trim())
  t.equal(overlaps.length, 1, `one overlap, on A:\n${calm}`)
  const o = { text: overlaps[0] ?? '' }
  t.same([...o.text.matchAll(/runner PID (\d+)/g)].map(m => Number(m[1])).sort(), [...runnersA].sort(), "A's two runners")
  t.match(o.text, new RegExp(`runner PID \\d+ of server :${portA} for`), 'the server named')
  t.match(o.text, new RegExp(`/api/ps of server :${portA} listed `), "and what A listed, not B's listing")
  // The combined RSS: the highest sum of A's two runners at one process sample, from the trace's rows.
  const byTs = new Map<string, { n: number; kb: number }>()
  for (const l of kept) {
    const [ts, pid, , , rss] = l.split('\t')
    if (!runnersA.includes(Number(pid)) || Number(rss) === 0) continue
    const e = byTs.get(ts as string) ?? { n: 0, kb: 0 }
    byTs.set(ts as string, { n: e.n + 1, kb: e.kb + Number(rss) })
  }
  const peak = Math.max(...[...byTs.values()].filter(e => e.n === 2).map(e => e.kb * 1024))
  t.equal(/holding ([\d.]+) GiB RSS combined/.exec(o.text)?.[1], (peak / 2 ** 30).toFixed(1), "the combined RSS, from A's runners' own samples")
  const svg = readFileSync(join(dir, 'chart.svg'), 'utf8')
  t.match(svg, `llama3.2:3b on :${portA}`, 'the legend names the server of each runner')
  t.match(svg, `llama3.2:3b on :${portB}`)
  t.match(svg, `server :${portB} · pid ${b.server.pid}`)
})
