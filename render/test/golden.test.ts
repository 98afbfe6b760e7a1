import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { memtrace, ROOT } from '../../core/test/helpers.js'

const GOLDEN = join(ROOT, 'render', 'test', 'golden')

// Goldens are rendered with `make golden` (fixed size, --tz UTC). A difference
// here is a change in what users see: look at both files, then regenerate.
for (const file of readdirSync(GOLDEN).filter(f => f.endsWith('.svg'))) {
  const name = file.replace(/\.svg$/, '')
  t.test(`golden: ${name}`, async t => {
    const dir = t.testdir({})
    const out = join(dir, 'out.svg')
    const r = memtrace(['render', '--dir', join(ROOT, 'samples', name), '-o', out, '--tz', 'UTC', '--quiet'], { env: { TZ: 'Pacific/Auckland', LC_ALL: 'de_DE.UTF-8' } })
    t.equal(r.code, 0, r.stderr)
    const got = readFileSync(out, 'utf8')
    const want = readFileSync(join(GOLDEN, file), 'utf8')
    if (got === want) return t.pass('byte-identical')
    const a = got.split('\n')
    const b = want.split('\n')
    const i = a.findIndex((l, k) => l !== b[k])
    t.fail(`differs from ${file} at line ${i + 1} (run make golden if the change is intended)`, { found: a[i]?.slice(0, 200), wanted: b[i]?.slice(0, 200) })
  })
}

t.test('every sample has a golden', async t => {
  const samples = readdirSync(join(ROOT, 'samples'), { withFileTypes: true }).filter(d => d.isDirectory()).map(d => d.name).sort()
  const goldens = readdirSync(GOLDEN).filter(f => f.endsWith('.svg')).map(f => f.replace(/\.svg$/, '')).sort()
  t.same(goldens, samples)
})
