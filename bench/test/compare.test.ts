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
