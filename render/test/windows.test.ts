/**
 * A trace made of what Windows prints, read through the same code as any
 * other: the windows-model-switch sample, and the same text as PowerShell 5's
 * `>` writes it (UTF-16 LE with its byte-order mark, CRLF).
 */
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadTrace } from '../load.js'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { parseSvg } from './xml.js'

const SAMPLE = join(ROOT, 'samples', 'windows-model-switch')
const PROC = join(SAMPLE, 'ollama-process-memtrace-20261130-191200.tsv')
const SYS = join(SAMPLE, 'system-memtrace-20261130-191200.log')

/** The Get-Counter value printed under `path` in the block of `ts`. */
function counterAt(ts: string, path: string): number {
  const text = readFileSync(SYS, 'utf8')
  const at = text.indexOf(`===== ${ts} =====`)
  const end = text.indexOf('=====', at + 30)
  const m = new RegExp(`\\\\${path.replaceAll('\\', '\\\\')} :\\r\\n\\s+(\\d+)`).exec(text.slice(at, end))
  if (!m) throw new Error(`no ${path} in the block of ${ts}`)
  return Number(m[1])
}

async function check(t: Test, procPath: string, sysPath: string) {
  const { trace, problems } = await loadTrace(procPath, sysPath)
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.equal(trace.sys.platform, 'windows')
  const runners = trace.procs.filter(s => s.role === 'runner')
  t.same(runners.map(s => [s.pid, s.model, s.engine]), [
    [14520, 'llama3.1:8b', 'ollama-engine'],
    [17384, 'gemma3:27b', 'ollama-engine'],
  ], 'both runners, named by model from ollama ps')
  t.same(trace.procs.filter(s => s.role === 'server').map(s => s.pid), [11872])
  for (const name of ['commit', 'commit-limit', 'available', 'used', 'free-pct']) t.ok(trace.sys.fields.get(name)?.some(v => !Number.isNaN(v)), `${name} series`)
  t.equal(trace.sys.memTotalBytes, 32562 * 2 ** 20, "systeminfo's total")
}

t.test('the Windows sample: runners named by model, the Windows system series', async t => {
  await check(t, PROC, SYS)
})

t.test('the same trace as PowerShell 5 writes it: UTF-16 LE with a BOM, CRLF', async t => {
  const dir = t.testdir({})
  const sys = join(dir, 'system.log')
  writeFileSync(sys, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(readFileSync(SYS, 'utf8'), 'utf16le')]))
  await check(t, PROC, sys)
})

t.test('UTF-8 with a BOM (Out-File -Encoding utf8): the first header still read', async t => {
  const dir = t.testdir({})
  const sys = join(dir, 'system.log')
  writeFileSync(sys, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(SYS)]))
  await check(t, PROC, sys)
})

t.test('render: commit against its limit in the system panel, and the finding speaks of commit', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'w.svg')
  const r = memtrace(['render', '--dir', SAMPLE, '-o', out, '--tz', 'UTC', '--json'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '', 'no process-less warning: the listings are process samples')
  const findings = r.stdout.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(f => f.record === 'finding')
  const commit = findings.find(f => f.kind === 'commit-limit')
  t.ok(commit, 'a commit-limit finding')
  t.equal(commit.severity, 'exhausted')
  t.match(commit.text, /^Windows was at its commit limit from 19:18:35 to 19:19:10 .*: the commit charge was 33\.9 GiB of its 36\.5 GiB limit \(93%\) at 19:19:00, while 9\.5 GiB of physical memory was still available/)
  t.equal(commit.figures.commitBytes, counterAt('2026-11-30T19:19:00Z', 'memory\\committed bytes'), 'the commit charge of the block it names')
  t.equal(commit.figures.commitLimitBytes, counterAt('2026-11-30T19:19:00Z', 'memory\\commit limit'))
  const overlap = findings.find(f => f.kind === 'runner-overlap')
  t.equal(overlap?.severity, 'short', 'runners together while commit was at its limit: memory was short')
  t.match(overlap?.text, /commit charge 33\.9 GiB \(19:19:00; 93% of its 36\.5 GiB limit\)/, 'the overlap speaks of commit against its limit')
  const svg = parseSvg(readFileSync(out, 'utf8'))
  const series = [...svg.querySelectorAll('path.sys-series')].map(p => p.getAttribute('data-series'))
  t.same(series.sort(), ['commit', 'commit-limit', 'used', 'available'].sort())
  t.match(readFileSync(out, 'utf8'), /commit limit \(RAM \+ page files\)/)
})

t.test('tasklist only (no command lines): the old runner binary is a runner, named by what ollama ps listed when it started', async t => {
  const dir = t.testdir({ 'p.tsv': 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n' })
  const head = 'Image Name                     PID Session Name        Session#    Mem Usage\r\n========================= ======== ================ =========== ============\r\n'
  const row = (name: string, pid: number, kb: string) => `${name.padEnd(25)} ${String(pid).padStart(8)} Console                    1 ${`${kb} K`.padStart(12)}\r\n`
  let log = ''
  for (let s = 0; s < 60; s += 5) {
    log += `===== 2026-11-30T19:12:${String(s).padStart(2, '0')}Z =====\r\n${head}${row('ollama.exe', 11872, '62,108')}`
    if (s >= 20) log += row('ollama_llama_server.exe', 14520, s === 20 ? '40,960' : '1,998,412')
    log += '\r\nNAME           ID              SIZE      PROCESSOR    UNTIL\r\n'
    if (s >= 20) log += 'llama3.1:8b    46e0c10c039e    6.9 GB    100% GPU     4 minutes from now\r\n'
    log += '\r\n'
  }
  writeFileSync(join(dir, 's.log'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(log, 'utf16le')]))
  const { trace, problems } = await loadTrace(join(dir, 'p.tsv'), join(dir, 's.log'))
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.same(trace.procs.map(s => [s.pid, s.role, s.model ?? null]), [
    [11872, 'other', null],
    [14520, 'runner', 'llama3.1:8b'],
  ], 'ollama.exe cannot be told from a runner without its arguments; ollama_llama_server.exe is one')
  const runner = trace.procs[1]!
  t.equal(runner.peakRssKb, 1998412)
})

t.test("a counters' CSV given as the system trace: a message that says what it is and what to do", async t => {
  const dir = t.testdir({
    'p.tsv': 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n',
    'c.csv': '"(PDH-CSV 4.0)","\\\\H\\Memory\\Available Bytes"\r\n"11/30/2026 19:19:00.412","10200547328.000000"\r\n',
  })
  await t.rejects(loadTrace(join(dir, 'p.tsv'), join(dir, 'c.csv')), /c\.csv is a performance counters' CSV \(typeperf, Export-Counter, relog\), not a system trace: put it in a block/)
})
