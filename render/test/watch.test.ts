import t from 'tap'
import { spawn } from 'node:child_process'
import { appendFileSync, copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, ROOT } from '../../core/test/helpers.js'

const SAMPLE = join(ROOT, 'samples', 'seed-loops')

t.test('--watch renders again when the traces grow, and follows a rotated file', async t => {
  const dir = t.testdir({})
  const { readdirSync } = await import('node:fs')
  const names = readdirSync(SAMPLE)
  const p = join(dir, 'p.tsv')
  const s = join(dir, 's.log')
  copyFileSync(join(SAMPLE, names.find(n => n.endsWith('.tsv'))!), p)
  copyFileSync(join(SAMPLE, names.find(n => n.startsWith('system-') && n.endsWith('.log'))!), s)
  const out = join(dir, 'live.svg')
  const w = spawn(process.execPath, [BIN, 'render', p, s, out, '--tz', 'UTC', '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  w.stdout.on('data', d => (stdout += d))
  const renders = () => (stdout.match(/ rendered /g) ?? []).length
  const waitFor = async (n: number) => {
    for (let i = 0; i < 200 && renders() < n; i++) await new Promise(r => setTimeout(r, 100))
    return renders()
  }
  const samples = () => Number(/(\d+) system samples/.exec(readFileSync(out, 'utf8'))?.[1])
  t.equal(await waitFor(1), 1, 'rendered at start')
  const before = samples()
  const last = readFileSync(s, 'utf8').split('\n').filter(l => l.startsWith('===== ')).pop() as string
  const t0 = Date.parse(last.slice(6, 26))
  const blockAt = (ms: number) => `===== ${new Date(ms).toISOString().replace('.000', '')} =====\n{"models":[]}\n\n`
  appendFileSync(s, blockAt(t0 + 5000) + blockAt(t0 + 10000))
  t.equal(await waitFor(2), 2, 'rendered again after the trace grew')
  t.equal(samples(), before + 2)
  renameSync(s, `${s}.1`)
  writeFileSync(s, blockAt(t0 + 15000))
  t.ok((await waitFor(3)) >= 3, 'and again after the file was rotated')
  t.equal(samples(), 1, 'now drawing the new file')
  w.kill('SIGINT')
  const code = await new Promise(r => w.once('exit', r))
  t.equal(code, 0)
})
