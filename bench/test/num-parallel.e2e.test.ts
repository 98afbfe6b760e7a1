/**
 * `memtrace bench num-parallel` end to end, against the Ollama stand-in (not
 * Ollama: its runners hold a share of the memory a model would, and its
 * tokens come at a fixed pace) with short settings.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { benchStepSchema, type BenchStep } from '../../schemas/index.js'
import { standinHost } from './standin-host.js'
import { memtrace } from '../../core/test/helpers.js'
import { parseSvg } from '../../render/test/xml.js'

t.test('a three-step sweep: results, table, both charts, a marker per step, the runner NP checked', async t => {
  const dir = t.testdir({})
  const { env } = standinHost(dir, ['qwen2.5-coder:7b'])
  const out = join(dir, 'out')
  // An Ollama-like process of someone else's: the sweep's memory chart is of its own server only.
  const { spawn } = await import('node:child_process')
  const decoy = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'ollama-decoy-runner'], { stdio: 'ignore' })
  t.teardown(() => decoy.kill('SIGKILL'))
  const r = memtrace(['bench', 'num-parallel', '--model', 'qwen2.5-coder:7b', '--num-ctx', '8192', '--max-np', '3', '--requests', '2', '--cooldown', '200ms', '--num-predict', '12', '--out', out], { env })
  t.equal(r.code, 0, r.stderr)
  t.same(readdirSync(out).sort(), ['memory.svg', 'results.jsonl', 'results.md', 'results.svg', 'server.log', 'trace'])

  const steps = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as BenchStep)
  const validate = new Ajv({ strict: false }).compile(benchStepSchema)
  for (const s of steps) t.ok(validate(s), JSON.stringify(validate.errors))
  t.same(steps.map(s => s.step), [1, 2, 3])
  for (const s of steps) {
    t.equal(s.outcome, 'ok')
    t.equal(s.requests, 2)
    t.equal(s.effectiveNp, s.step, `NP ${s.step}: the runner got -np ${s.step}`)
    t.equal(s.npMismatch, false)
    t.ok((s.genTps ?? 0) > 5 && (s.genTps ?? 0) < 100, `NP ${s.step}: ${s.genTps} t/s from eval_count / eval_duration`)
    t.ok((s.ttftMs ?? 0) > 0, 'a time to the first token')
    t.ok((s.rssPeakBytes ?? 0) > 0, 'the runner RSS, from the trace')
    t.ok(s.otherCpuPct === undefined || (s.otherCpuPct >= 0 && s.otherCpuPct <= 100), 'the CPU others used during the step, in % of the machine')
    t.ok(typeof s.loadAvgBefore === 'number' && typeof s.loadAvg === 'number', 'the load average before and during')
    // How it was made: the sweep's settings and what the server's own log said, the versions, the host.
    t.match(s.settings, { numParallel: s.step, numCtx: 8192, kvCacheType: 'f16', flashAttention: false }, "the stand-in's server config line: OLLAMA_KV_CACHE_TYPE empty (f16), OLLAMA_FLASH_ATTENTION false")
    t.match(s.settings?.modelDigest, /^[0-9a-f]{12,64}$/, "the digest /api/tags lists")
    t.match(s.versions, { ollama: /standin/, memtrace: /^\d+\.\d+\.\d+/ }, "the server's /api/version and memtrace's own")
    t.ok((s.host?.cpus ?? 0) > 0 && (s.host?.memTotalBytes ?? 0) > 0 && s.host?.os && s.host?.kernel, 'the host: CPUs, memory, OS, kernel')
  }
  // The stand-in does not slow down: flat, unless others kept the host busy, when nothing is named and that is said.
  const busy = steps.filter(s => Math.max(s.otherCpuPct ?? 0, s.otherCpuPctBefore ?? 0) > 25)
  t.ok((steps[2]?.rssIdleBytes ?? 0) > (steps[0]?.rssIdleBytes ?? 0), 'more slots, more memory held')

  const md = readFileSync(join(out, 'results.md'), 'utf8')
  t.match(md, /^\| NP \| runner NP \| gen t\/s \|/m)
  t.equal((md.match(/^\| [123] \| [123] \| /gm) ?? []).length, 3, 'one row per step')
  if (busy.length === 0) {
    t.same(steps.map(s => s.phase), ['flat', 'flat', 'flat'], 'the stand-in does not slow down')
    t.match(md, /Phases: flat 1–3 \(a difference counts only when the two means lie further apart than their two standard deviations together\)\./)
    t.match(md, /^Cause: none \(no step slower beyond the spread\)/m)
  } else {
    t.same(steps.map(s => s.phase), [undefined, undefined, undefined], 'nothing named on a busy host')
    t.match(md, new RegExp(`Phases: none named: the host was busy \\(other processes used \\d+ % of the CPU at NP ${busy[0]?.step}`))
  }
  t.match(md, busy.length === 0 ? /^Recommendation: NUM_PARALLEL=3, the largest that stayed flat on this machine: every step stayed flat/m : /^Recommendation: none: the host was busy/m)
  t.match(md, /`memtrace plan` says (up to \d+ slots? fit|not one slot fits) at 8192 context \(KV cache f16, flash attention off/, 'beside what plan says for the same model and context, as the server ran it')
  t.match(md, /predicted 448 MiB by `memtrace plan`/, "plan's f16 KV cache per slot at 8192: 8192 × 57344 bytes")

  const results = parseSvg(readFileSync(join(out, 'results.svg'), 'utf8'))
  t.equal(results.querySelectorAll('circle').length, 3 + 3 + 4, 'a point per step in each panel, and the phase legend')
  const memory = parseSvg(readFileSync(join(out, 'memory.svg'), 'utf8'))
  // Beside their lines, or, when the steps crowd them (a narrow chart, short steps), numbered and listed below the chart.
  const markers = Array.from(memory.querySelectorAll('.marker text, text.marker-label, .marker-list text')).map(e => e.textContent)
  t.ok(['NUM_PARALLEL=1', 'NUM_PARALLEL=2', 'NUM_PARALLEL=3'].every(m => markers.some(x => x?.includes(m))), `markers: ${markers.join(', ')}`)
  const svgText = readFileSync(join(out, 'memory.svg'), 'utf8')
  t.notMatch(svgText, /did not answer/, "the server's restarts are its markers, not a server that did not answer")
  t.notMatch(svgText, /decoy/, 'only the managed server and its runners are drawn')
  t.match(svgText, /Drawn: the processes of PID [\d, ]+ and their descendants/)
  const log = readFileSync(join(out, 'trace', readdirSync(join(out, 'trace')).find(f => f.startsWith('system-memtrace-')) as string), 'utf8')
  t.equal((log.match(/memtrace marker \{[^\n]*"text":"NUM_PARALLEL=\d, restart"/g) ?? []).length, 3, 'three markers in the trace, each a restart of the server')
})

t.test("on llama.cpp, the KV cache each slot adds is what plan predicts for it", async t => {
  const dir = t.testdir({})
  // The stand-in's default runner: the small model on llama.cpp, which allocates its own KV cache (no scale set).
  const { env } = standinHost(dir, ['memtrace-tiny'], { OLLAMA_STANDIN_RUNNER: 'llama.cpp', OLLAMA_STANDIN_SCALE: '' })
  const out = join(dir, 'out')
  const r = memtrace(['bench', 'num-parallel', '--model', 'memtrace-tiny', '--num-ctx', '4096', '--max-np', '3', '--requests', '1', '--cooldown', '100ms', '--num-predict', '4', '--out', out], { env })
  t.equal(r.code, 0, r.stderr)
  const steps = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as BenchStep)
  t.same(steps.map(s => [s.step, s.effectiveNp, s.outcome]), [[1, 1, 'ok'], [2, 2, 'ok'], [3, 3, 'ok']])
  const md = readFileSync(join(out, 'results.md'), 'utf8')
  const perSlot = /^Per slot: measured (\d+) MiB .* predicted 64 MiB by `memtrace plan` \(f16 KV cache at 4096\) \(error ([+−])(\d+)%\)\.$/m.exec(md)
  t.ok(perSlot, `plan's 4096 × 16 KiB a slot, set against the measured rise:\n${md}`)
  t.ok(Number(perSlot?.[3]) <= 15, `measured ${perSlot?.[1]} MiB a slot: within 15 % of the prediction`)
})

t.test('bad usage is said before anything runs', async t => {
  t.equal(memtrace(['bench', 'num-parallel']).code, 1, 'no --model')
  t.equal(memtrace(['bench', 'num-parallel', '--model', 'x', '--min-np', '4', '--max-np', '2']).code, 1)
  const none = memtrace(['bench', 'nope', '--model', 'x'])
  t.equal(none.code, 1)
  t.match(none.stderr, /no such experiment/)
  const dir = t.testdir({ full: { 'x.txt': 'mine' } })
  const full = memtrace(['bench', 'num-parallel', '--model', 'x', '--out', join(dir, 'full')])
  t.equal(full.code, 1)
  t.match(full.stderr, /is not empty/)
  const missing = memtrace(['bench', 'num-parallel', '--model', 'x', '--serve-cmd', 'no-such-ollama serve', '--out', join(dir, 'none')])
  t.equal(missing.code, 2, 'a server that cannot start is said once, not recorded as fifteen failed steps')
  t.match(missing.stderr, /no-such-ollama serve: command not found/)
})

t.test('Ctrl-C in the middle of a sweep leaves no server, runner or daemon behind', async t => {
  const dir = t.testdir({})
  const { env, ollama } = standinHost(dir, ['qwen2.5-coder:7b'])
  // A server command that does not exec: the real server is a grandchild, as behind a wrapper script.
  const wrapper = join(dir, 'serve.sh')
  writeFileSync(wrapper, `#!/bin/sh\n"${ollama}" serve\n`, { mode: 0o755 })
  const { spawn } = await import('node:child_process')
  const { BIN } = await import('../../core/test/helpers.js')
  const child = spawn(process.execPath, [BIN, 'bench', 'num-parallel', '--model', 'qwen2.5-coder:7b', '--max-np', '6', '--requests', '3', '--cooldown', '500ms', '--serve-cmd', wrapper, '--out', join(dir, 'out')], { env, stdio: 'ignore' })
  const alive = () => spawnSync('pgrep', ['-f', dir], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number).filter(p => p !== child.pid)
  for (let i = 0; i < 100 && !alive().some(() => true); i++) await new Promise(ok => setTimeout(ok, 100))
  await new Promise(ok => setTimeout(ok, 4000))
  t.ok(alive().length > 0, 'server, runner and daemon were running')
  child.kill('SIGINT')
  const code = await new Promise(ok => child.once('exit', (c, sig) => ok(sig ?? c)))
  t.equal(code, 'SIGINT', 'it dies of the signal, as a command does')
  // The guardian that cleans up after the bench stops its daemon with 'memtrace stop', which may take seconds on a busy machine.
  for (let i = 0; i < 150 && alive().length > 0; i++) await new Promise(ok => setTimeout(ok, 100))
  // No server, runner or daemon: a 'memtrace stop' the bench's guardian still runs (it can wait out a daemon the bench itself is stopping) is neither.
  const stopping = (pid: number) => / stop --dir /.test(spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).stdout)
  const left = alive().filter(p => !stopping(p))
  t.same(left, [], `nothing of the run is left${left.length ? `: ${spawnSync('ps', ['-o', 'pid,ppid,args', '-p', left.join(',')], { encoding: 'utf8' }).stdout}` : ''}`)
})
