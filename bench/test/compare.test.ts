import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchStep } from '../../schemas/index.js'
import { beyondSpread, compare } from '../compare.js'
import { memtrace } from '../../core/test/helpers.js'

const GIB = 1024 ** 3
const step = (n: number, gen: number, sdv: number, rss: number): BenchStep => ({
  record: 'bench-step', experiment: 'num-parallel', step: n, model: 'qwen2.5-coder:7b', outcome: 'ok', startedAt: '2026-11-23T06:00:00Z', endedAt: '2026-11-23T06:01:00Z',
  genTps: gen, genTpsSd: sdv, rssPeakBytes: rss * GIB,
})

t.test('a difference is marked only beyond the two spreads together', async t => {
  t.ok(beyondSpread(21.1, 0.2, 18.0, 0.3))
  t.notOk(beyondSpread(21.1, 0.2, 21.4, 0.2), '0.3 apart with 0.4 of spread')
})

t.test('compare: speed beyond the spread and memory beyond 5 % are marked, the rest not', async t => {
  const before = [step(1, 21.1, 0.2, 5.6), step(2, 21.1, 0.2, 6.5)]
  const after = [step(1, 21.3, 0.2, 5.7), step(2, 17.0, 0.4, 7.5)]
  const md = compare(before, after, ['0.11.4/results.jsonl', '0.12.0/results.jsonl'])
  const rows = md.split('\n').filter(l => /^\| [12] \|/.test(l))
  t.equal(rows.length, 2)
  t.notMatch(rows[0], /⚠/, 'NP 1: +0.2 t/s within the spread; +0.1 GiB under 5 %')
  t.match(rows[1], /21\.1 \| 17\.0 \| −4\.1 \(−19%\) ⚠/, 'NP 2: speed fell beyond the spread')
  t.match(rows[1], /6\.50 \| 7\.50 \| \+1\.00 \(\+15%\) ⚠/, 'and memory grew by 15 %')
  t.match(md, /⚠ marks 2 differences/)
})

t.test('memtrace bench compare reads two results.jsonl files; says what is wrong with a bad one', async t => {
  const dir = t.testdir({})
  const a = join(dir, 'a.jsonl')
  const b = join(dir, 'b.jsonl')
  writeFileSync(a, `${JSON.stringify(step(1, 21.1, 0.2, 5.6))}\n`)
  writeFileSync(b, `${JSON.stringify(step(1, 14.3, 0.3, 5.6))}\n`)
  const r = memtrace(['bench', 'compare', a, b])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^\| NP \| gen t\/s A \| gen t\/s B \| Δ \|/m)
  t.match(r.stdout, /−6\.8 \(−32%\) ⚠/)
  writeFileSync(b, '{"record":"finding"}\n')
  const bad = memtrace(['bench', 'compare', a, b])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /b\.jsonl:1: not a bench-step record/)
  t.equal(memtrace(['bench', 'compare', a]).code, 1)
})

// Recorded lines as `bench num-parallel` writes them, with the settings, versions, host and load they carry.
const HOST = { cpuModel: 'AMD EPYC 7B13', cpus: 2, memTotalBytes: 8 * GIB, os: 'Linux', osName: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-27-cloud-amd64' }
const made = (n: number, gen: number, sdv: number, rss: number, more: Partial<BenchStep> = {}): BenchStep => ({
  ...step(n, gen, sdv, rss),
  requests: 3,
  settings: { numParallel: n, numCtx: 8192, kvCacheType: 'f16', batch: 512, modelDigest: 'dae161e27b0e' },
  versions: { ollama: '0.11.4', memtrace: '0.1.0' },
  host: HOST,
  otherCpuPctBefore: 3,
  otherCpuPct: 5,
  ...more,
})
const rowsOf = (md: string) => md.split('\n').filter(l => /^\| \d+ \|/.test(l))

t.test('compare: two runs that differ only in how busy the host was: the speeds are put down to load, not marked', async t => {
  const quiet = [made(1, 60.2, 1.1, 0.25), made(2, 59.8, 0.9, 0.38)]
  const busy = [made(1, 5.1, 3.5, 0.25, { otherCpuPctBefore: 96, otherCpuPct: 80 }), made(2, 2.1, 1.1, 0.38, { otherCpuPctBefore: 78, otherCpuPct: 82 })]
  const md = compare(quiet, busy, ['quiet/results.jsonl', 'busy/results.jsonl'])
  for (const r of rowsOf(md)) {
    t.notMatch(r, /⚠/)
    t.match(r, /\(load\)/, 'the fall of the speed is beyond the spread, and put down to load')
    t.match(r, /busy host \(other CPU 5 → 96 %|busy host \(other CPU 5 → 82 %/)
  }
  t.match(md, /⚠ marks 0 differences/)
  t.match(md, /not called a change: \d+ by a busy host/)
  t.match(md, /Versions: Ollama 0\.11\.4; memtrace 0\.1\.0\./, 'the same versions, said once')
})

t.test('compare: a changed setting is named, and what differs with it is put down to it', async t => {
  const a = [made(2, 21.1, 0.2, 0.38)]
  const b = [made(2, 21.0, 0.2, 0.62, { settings: { numParallel: 2, numCtx: 16384, kvCacheType: 'q8_0', batch: 512, modelDigest: 'dae161e27b0e' }, versions: { ollama: '0.12.0', memtrace: '0.1.0' } })]
  const md = compare(a, b, ['a', 'b'])
  const [row] = rowsOf(md)
  t.match(row, /changed: num\\_ctx 8192 → 16384, KV cache f16 → q8\\_0/)
  t.match(row, /0\.38 \| 0\.62 \| \+0\.24 \(\+63%\) \(setting\)/, 'memory grew with the context, not with the upgrade')
  t.match(md, /⚠ marks 0 differences/)
  t.match(md, /Versions: Ollama 0\.11\.4 → 0\.12\.0; memtrace 0\.1\.0\./)
})

t.test('compare: another host is said, and its differences are not called changes', async t => {
  const a = [made(1, 21.1, 0.2, 0.38)]
  const b = [made(1, 30.5, 0.3, 0.38, { host: { ...HOST, cpus: 8, cpuModel: 'Apple M2' } })]
  const md = compare(a, b, ['a', 'b'])
  t.match(md, /Another host: CPU AMD EPYC 7B13 → Apple M2, CPUs 2 → 8/)
  t.match(rowsOf(md)[0], /\(setting\)/)
  t.match(md, /⚠ marks 0 differences/)
})

t.test('compare: steps of one request each have no spread: nothing is marked, not even memory', async t => {
  const a = [made(1, 21.1, 0, 0.25, { requests: 1 }), made(2, 20.9, 0, 0.38, { requests: 1 })]
  // ±3 % in speed, and memory 60 % higher at NP=1: with one request a step, none of it is called a change.
  const b = [made(1, 20.4, 0, 0.4, { requests: 1 }), made(2, 21.6, 0, 0.38, { requests: 1 })]
  const md = compare(a, b, ['a', 'b'])
  for (const r of rowsOf(md)) {
    t.notMatch(r, /⚠/, 'no difference marked')
    t.match(r, /one request a step: nothing judged/)
  }
  t.match(md, /⚠ marks 0 differences/)
  t.match(md, /not judged for want of a spread/)
})

t.test('compare: a step that failed in one run is marked and counted, not a bare "–"', async t => {
  const a = [made(1, 21.1, 0.2, 0.25), made(2, 20.9, 0.2, 0.38)]
  const { genTps: _g, genTpsSd: _s, rssPeakBytes: _r, ...rest } = made(2, 0, 0, 0)
  const b = [made(1, 21.0, 0.2, 0.25), { ...rest, outcome: 'did not load: model requires more system memory', requests: 0 }]
  const md = compare(a, b, ['a', 'b'])
  t.match(rowsOf(md)[1], /✕ failed: B did not load: model requires more system memory/)
  t.match(md, /✕ 1 step failed \(1 in one run, 0 in both\)/)
  t.match(md, /⚠ marks 0 differences/)
})

t.test('compare reads results written before lines carried settings, as before', async t => {
  const md = compare([step(1, 21.1, 0.2, 5.6)], [step(1, 17.0, 0.4, 5.6)], ['old', 'new'])
  t.match(rowsOf(md)[0], /−4\.1 \(−19%\) ⚠/)
  t.notMatch(md, /Versions:/)
})
