/**
 * docs/prometheus/alerts.yml, checked and tested by Debian's promtool on the
 * series docs/prometheus/alerts.test.yml writes for each rule.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers.js'

const DOCS = join(ROOT, 'docs', 'prometheus')
const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', cwd: DOCS })

t.test('the alert rules are valid, and each fires on its test series and only there', async t => {
  if (spawnSync('sh', ['-c', 'command -v promtool']).status !== 0) {
    t.fail("promtool is not installed: `make prometheus` installs Debian's prometheus, which has it, and `make test` runs that first")
    return
  }
  const check = promtool('check', 'rules', 'alerts.yml')
  t.equal(check.status, 0, check.stdout + check.stderr)
  t.match(check.stdout, /SUCCESS: 14 rules found/)
  const test = promtool('test', 'rules', 'alerts.test.yml')
  t.equal(test.status, 0, test.stdout + test.stderr)
  t.match(test.stdout, /SUCCESS/)
})

t.test('the tests catch a rule that drifts: low free memory at 20 % instead of the chart\'s 30 %', async t => {
  if (spawnSync('sh', ['-c', 'command -v promtool']).status !== 0) {
    t.fail('promtool is not installed (make prometheus)')
    return
  }
  const dir = t.testdir({})
  writeFileSync(join(dir, 'alerts.yml'), readFileSync(join(DOCS, 'alerts.yml'), 'utf8').replace('memtrace_system_memory_free_ratio < 0.30', 'memtrace_system_memory_free_ratio < 0.20'))
  copyFileSync(join(DOCS, 'alerts.test.yml'), join(dir, 'alerts.test.yml'))
  const r = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { encoding: 'utf8', cwd: dir })
  t.not(r.status, 0, 'promtool test rules fails')
  t.match(r.stdout + r.stderr, /MemtraceLowFreeMemory/)
})

t.test('the tests catch a rule that is not scoped per server: orphans summed over a host\'s servers', async t => {
  if (spawnSync('sh', ['-c', 'command -v promtool']).status !== 0) {
    t.fail('promtool is not installed (make prometheus)')
    return
  }
  const dir = t.testdir({})
  const rules = readFileSync(join(DOCS, 'alerts.yml'), 'utf8')
  t.match(rules, 'expr: memtrace_orphan_runners > 0')
  writeFileSync(join(dir, 'alerts.yml'), rules.replace('expr: memtrace_orphan_runners > 0', 'expr: sum without (server) (memtrace_orphan_runners) > 0'))
  copyFileSync(join(DOCS, 'alerts.test.yml'), join(dir, 'alerts.test.yml'))
  const r = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { encoding: 'utf8', cwd: dir })
  t.not(r.status, 0, 'promtool test rules fails')
  t.match(r.stdout + r.stderr, /MemtraceOrphanRunner/)
})
