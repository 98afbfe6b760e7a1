import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { installArgs } from '../install.js'

const script = fileURLToPath(new URL('../install.js', import.meta.url))

t.test('--gpu before or after the directory, never taken as one', async t => {
  t.same(installArgs(['x']), { dir: 'x', gpu: false })
  t.same(installArgs(['x', '--gpu']), { dir: 'x', gpu: true })
  t.same(installArgs(['--gpu', 'x']), { dir: 'x', gpu: true })
  t.same(installArgs(['--', '--gpu']), { dir: '--gpu', gpu: false }, 'after --, a word is a directory')
  t.match(installArgs(['--gpu']), { error: /no directory given/ })
  t.match(installArgs([]), { error: /no directory given/ })
  t.match(installArgs(['--gpus', 'x']), { error: /--gpus/ }, 'an unknown flag is refused, not made a folder')
  t.match(installArgs(['-g', 'x']), { error: /-g/ })
  t.match(installArgs(['a', 'b']), { error: /one directory only/ })
})

t.test('install.js --gpu DIR writes nvidia-smi into DIR, and no folder named --gpu', async t => {
  const cwd = mkdtempSync(join(tmpdir(), 'memtrace-install-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  const r = spawnSync(process.execPath, [script, '--gpu', 'sa'], { cwd, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.equal(r.stdout, `${join('sa', 'bin')}\n`)
  t.ok(existsSync(join(cwd, 'sa', 'bin', 'nvidia-smi')), 'the stand-in GPU is installed')
  t.same(readdirSync(cwd), ['sa'], 'nothing else made')
  const bad = spawnSync(process.execPath, [script, '--gpu'], { cwd, encoding: 'utf8' })
  t.equal(bad.status, 2)
  t.match(bad.stderr, /no directory given\nusage: install\.js \[--gpu\] DIR/)
  t.same(readdirSync(cwd), ['sa'], 'a lone flag makes no folder')
})
