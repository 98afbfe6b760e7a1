/**
 * Several servers on one host, and memtrace in a container, rendered as a
 * user would: the findings' order and figures are checked against the
 * traces' own samples. `fixtures/two-servers/` was captured by the daemon
 * beside two stand-in servers; the others are written by
 * scripts/make-server-traces.ts (see fixtures/README.md).
 */
import t from 'tap'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { loadTrace } from '../load.js'
import { makeCtx } from '../findings/context.js'
import { overlapFindings } from '../findings/overlap.js'

const FIX = join(ROOT, 'render', 'test', 'fixtures')

interface Finding {
  record: string
  kind: string
  start: string
  end?: string
  pids?: number[]
  text: string
  figures?: Record<string, number>
}

function render(name: string, dir: string): { findings: Finding[]; svg: string } {
  const out = join(dir, `${name}.svg`)
  const r = memtrace(['render', '--dir', join(FIX, name), '--out', out, '--json', '--tz', 'UTC'])
  if (r.code !== 0) throw new Error(r.stderr)
  const findings = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Finding).filter(x => x.record === 'finding')
  return { findings, svg: readFileSync(out, 'utf8') }
}

/**
 * Every overlap of runners in a trace folder, whether memory was short or not:
 * one during which memory stayed ample is a line in the report, not a finding,
 * but its grouping by server is the same.
 */
async function overlapsIn(dir: string): Promise<Finding[]> {
  const files = readdirSync(dir)
  const tsv = files.find(f => f.endsWith('.tsv')) as string
  const log = files.find(f => f.startsWith('system-') && f.endsWith('.log')) as string
  const { trace } = await loadTrace(join(dir, tsv), join(dir, log))
  return overlapFindings(makeCtx(trace, { zone: 'UTC', lowFreePct: 30 })) as Finding[]
}

/** A trace's process rows: time, pid, ppid, RSS in bytes. */
function rows(name: string): { ms: number; pid: number; ppid: number; bytes: number }[] {
  const file = readdirSync(join(FIX, name)).find(f => f.endsWith('.tsv')) as string
  return readFileSync(join(FIX, name, file), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map(l => l.split('\t'))
    .map(c => ({ ms: Date.parse(c[0] as string), pid: Number(c[1]), ppid: Number(c[2]), bytes: Number(c[4]) * 1024 }))
}

t.test('two stand-in servers captured by the daemon: one overlap, of one server, with its own runners\' combined RSS', async t => {
  const { findings, svg } = render('two-servers', t.testdir({}))
  const procs = rows('two-servers')
  const runnersOf = (server: number) => [...new Set(procs.filter(r => r.ppid === server && r.pid !== 6455).map(r => r.pid))]
  const a = runnersOf(6357)
  const b = runnersOf(6443)
  t.same(a, [6518, 6699], "server :29270's two runners")
  t.same(b, [6565], "server :23095's one")
  t.same(findings.map(f => f.kind), [], 'no finding: memory stayed ample')
  const overlaps = await overlapsIn(join(FIX, 'two-servers'))
  t.equal(overlaps.length, 1, 'one overlap, on :29270 (a report line)')
  const o = overlaps[0] as Finding
  t.same(o.pids, a)
  t.match(o.text, /^At 17:34:21, runner PID 6518 of server :29270 for llama3\.2:3b was still alive while runner PID 6699 of server :29270 for qwen2\.5-coder:7b started\./)
  // B's runner was alive all along: with no grouping it would have been in this overlap.
  const bAlive = procs.filter(r => r.pid === 6565)
  t.ok(bAlive[0]!.ms <= Date.parse(o.start) && bAlive[bAlive.length - 1]!.ms >= Date.parse(o.end ?? o.start), "server :23095's runner was alive through it")
  const sums = new Map<number, number[]>()
  for (const r of procs) if (a.includes(r.pid) && r.bytes > 0) sums.set(r.ms, [...(sums.get(r.ms) ?? []), r.bytes])
  const peak = Math.max(...[...sums.values()].filter(v => v.length === 2).map(v => v[0]! + v[1]!))
  t.equal(o.figures?.combinedRssBytes, peak, 'the combined RSS is the highest sum of its two runners at one sample')
  t.match(o.text, /\/api\/ps of server :29270 listed qwen2\.5-coder:7b \(4\.6 GiB\) and llama3\.2:3b \(2\.3 GiB\) at 17:34:21\./, "what its own server listed")
  for (const label of ['llama3.2:3b on :29270', 'llama3.2:3b on :23095', 'qwen2.5-coder:7b on :29270', 'server :29270 · pid 6357', 'server :23095 · pid 6443']) t.match(svg, label, `legend: ${label}`)
})

t.test('an orphan of one server, though the other lists the same model; a server that did not answer says nothing', async t => {
  const { findings, svg } = render('two-servers-orphan', t.testdir({}))
  t.same((await overlapsIn(join(FIX, 'two-servers-orphan'))).filter(f => f.pids?.includes(1201) && f.pids?.includes(2201)), [], 'the two servers\' runners are never joined: no overlap')
  const orphans = findings.filter(f => f.kind === 'orphan-runner')
  t.equal(orphans.length, 1, 'one orphan')
  const o = orphans[0] as Finding
  t.equal(findings[0], o, 'and it comes first')
  t.same(o.pids, [2201], "server :11435's runner, not :11434's")
  t.equal(o.start, '2026-11-20T10:02:00Z', 'from the first listing of :11435 without it, not the unanswered samples at 10:01:00')
  const mine = rows('two-servers-orphan').filter(r => r.pid === 2201)
  const last = mine[mine.length - 1]!.ms
  t.equal(o.figures?.durationMs, last - Date.parse(o.start), 'until its last sample')
  t.equal(o.figures?.rssBytes, Math.max(...mine.filter(r => r.ms >= Date.parse(o.start)).map(r => r.bytes)), 'its highest RSS over the orphan time')
  t.match(o.text, /^Runner PID 2201 of server :11435 for llama3\.2:3b was alive while \/api\/ps of server :11435 no longer listed llama3\.2:3b: from 10:02:00 until the end of the trace/)
  t.match(svg, 'llama3.2:3b on :11435')
})

t.test('memtrace in a container: the cgroup at the namespace root is the container, and its limit is drawn', async t => {
  const { svg } = render('in-container', t.testdir({}))
  const parsed = memtrace(['parse', ...readdirSync(join(FIX, 'in-container')).map(f => join(FIX, 'in-container', f))])
  t.equal(parsed.code, 0, parsed.stderr)
  const samples = parsed.stdout.trim().split('\n').map(l => JSON.parse(l) as { record: string; cgroup?: { path?: string; limitBytes?: number; usageBytes?: number } }).filter(x => x.record === 'system-sample')
  t.ok(samples.length > 0 && samples.every(s => s.cgroup?.path === '/' && s.cgroup.limitBytes === 16 * 2 ** 30), 'every sample: the container at /, its 16 GiB limit')
  t.match(svg, 'container limit', 'the limit is drawn, as for Ollama in a container')
  t.match(svg, 'container usage')
  t.notMatch(parsed.stdout, /"record":"problem"/, 'nothing skipped')
})

t.test('memtrace in a container: a container at 95 % of its limit is memory exhausted, the first finding, with figures from its own samples', async t => {
  const { findings } = render('in-container', t.testdir({}))
  const dir = join(FIX, 'in-container')
  const log = readFileSync(join(dir, readdirSync(dir).find(f => f.startsWith('system-')) as string), 'utf8')
  // Each block's time, usage and limit, as the cgroup files print them.
  const blocks = log.split('===== ').slice(1).map(b => ({
    ms: Date.parse(b.slice(0, 20)),
    used: Number(/memory\.current:(\d+)/.exec(b)?.[1]),
    limit: Number(/memory\.max:(\d+)/.exec(b)?.[1]),
  }))
  const full = blocks.filter(b => b.used >= 0.95 * b.limit)
  t.ok(full.length > 0, `the container reached 95 % in ${full.length} samples`)
  const worst = full.reduce((a, b) => (b.used / b.limit > a.used / a.limit ? b : a))
  const f = findings[0] as Finding
  t.equal(f.kind, 'container-limit', `the headline: ${f.text}`)
  t.equal(f.start, new Date(full[0]!.ms).toISOString().replace('.000Z', 'Z'), 'from the first sample at the limit')
  t.equal(f.figures?.cgroupUsageBytes, worst.used, 'the highest usage, as memory.current printed it')
  t.equal(f.figures?.cgroupLimitBytes, worst.limit)
  const pct = Math.round((worst.used / worst.limit) * 100)
  t.match(f.text, new RegExp(`^The container was at its memory limit (?:from|at) [\\d:]+[^:]*: it used ${(worst.used / 2 ** 30).toFixed(1)} GiB of its 16\\.0 GiB \\(${pct}%\\)(?: at [\\d:]+)?, with runner PID 31 for llama3\\.2:3b at `))
  const memory = findings.find(x => x.kind === 'claim-vs-measured')
  t.ok(!memory || findings.indexOf(memory) > 0, 'before what Ollama said it holds')
})

/** A trace written by hand, as the shell loops write it: no `memtrace server` lines, so servers are told by the process tree only. */
function loopTrace(dir: string, procs: { pid: number; ppid: number; command: string; from: number; to: number; kb: number }[]): string {
  const t0 = Date.UTC(2026, 10, 20, 12, 0, 0)
  const iso = (s: number) => new Date(t0 + s * 1000).toISOString().replace(/\.000Z$/, 'Z')
  let tsv = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  for (let s = 0; s < 60; s++) for (const p of procs) if (s >= p.from && s < p.to) tsv += `${iso(s)}\t${p.pid}\t${p.ppid}\t${p.command.split(' ')[0]!.split('/').pop()}\t${p.kb}\t1000\t${p.command}\n`
  let log = ''
  for (let s = 0; s < 60; s += 5) log += `===== ${iso(s)} =====\nMemTotal:       67108864 kB\nMemAvailable:   50331648 kB\n{"models":[]}\n\n`
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'ollama-process-memtrace-20261120-120000.tsv'), tsv)
  writeFileSync(join(dir, 'system-memtrace-20261120-120000.log'), log)
  return dir
}

t.test('a trace without server lines: two servers with runners at once are kept apart; a second serve that failed to start is no server', async t => {
  const runner = (port: number) => `/usr/local/bin/llama-server --model /srv/models/blobs/sha256-${'c'.repeat(64)} --port ${port}`
  const base = t.testdir({})
  const two = loopTrace(join(base, 'two'), [
    { pid: 10, ppid: 1, command: '/usr/local/bin/ollama serve', from: 0, to: 60, kb: 60_000 },
    { pid: 20, ppid: 1, command: '/usr/local/bin/ollama serve', from: 0, to: 60, kb: 60_000 },
    { pid: 11, ppid: 10, command: runner(40001), from: 5, to: 60, kb: 2_000_000 },
    { pid: 21, ppid: 20, command: runner(40002), from: 10, to: 60, kb: 2_000_000 },
  ])
  const r = memtrace(['render', '--dir', two, '--out', join(base, 'two.svg'), '--json', '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.same(await overlapsIn(two), [], 'two servers, each with its runner: no overlap')
  t.match(readFileSync(join(base, 'two.svg'), 'utf8'), ` on PID 20 · runner pid 21`, 'a server without an address is named by its PID')
  // A user's `ollama serve` that could not bind the port lived a few seconds beside the service's.
  const one = loopTrace(join(base, 'one'), [
    { pid: 10, ppid: 1, command: '/usr/local/bin/ollama serve', from: 0, to: 60, kb: 60_000 },
    { pid: 30, ppid: 900, command: 'ollama serve', from: 8, to: 10, kb: 30_000 },
    { pid: 11, ppid: 10, command: runner(40001), from: 5, to: 40, kb: 2_000_000 },
    { pid: 12, ppid: 10, command: runner(40003), from: 30, to: 60, kb: 2_000_000 },
  ])
  const r1 = memtrace(['render', '--dir', one, '--out', join(base, 'one.svg'), '--json', '--tz', 'UTC'])
  t.equal(r1.code, 0, r1.stderr)
  const overlap = (await overlapsIn(one))[0]?.text
  t.ok(overlap, 'one server: its two runners overlap, as before')
  t.notMatch(overlap ?? '', /of server/, 'and no server is named')
})
