/**
 * A Windows PC in the fleet, with the real thing: Debian's Prometheus scrapes
 * the simulated Windows PC's daemon (windows-host.ts) through a model switch,
 * and `render --prometheus` draws what `render` draws from the trace: the
 * commit charge against its limit, available memory, and each runner's own
 * GPU memory from the GPU Process Memory counters, by adapter.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, gone, memtrace, read, sleep, traceFiles, until } from './helpers.js'
import { windowsHost, windowsUser } from './windows-host.js'

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

t.test('a simulated Windows PC scraped by Prometheus: commit, available and the runners\' GPU memory come back as the trace has them', async t => {
  if (!have('prometheus')) {
    t.fail("prometheus is not installed: `make prometheus` installs Debian's, and `make test` runs that first")
    return
  }
  const dir = t.testdir({})
  const host = windowsHost(dir)
  const trace = join(dir, 'trace')
  const [metricsPort, promPort] = [await freePort(), await freePort()]
  const instance = `127.0.0.1:${metricsPort}`
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: memtrace\n    static_configs:\n      - targets: ['${instance}']\n`)
  const prom = `http://127.0.0.1:${promPort}`
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' })
  t.teardown(() => prometheus.kill())
  for (let i = 0; i < 100 && !(await fetch(`${prom}/-/ready`).then(r => r.ok, () => false)); i++) await sleep(100)

  const fromS = Math.floor(Date.now() / 1000)
  const { env, load, listed, pid } = await windowsUser(t, host, join(dir, 'home'), trace, ['--metrics', instance])
  const { sys } = traceFiles(trace)
  const named = (model: string) => new RegExp(`memtrace runner \\{[^\\n]*"model":"${model.replace('.', '\\.')}"`)
  await until(() => (named('llama3.1:8b').test(read(sys)) && read(sys).includes('gpu process memory(pid_14520_') ? true : undefined), 15_000, 'the first runner named, and counted')
  await sleep(4000)
  host.scene('switch')
  load([...listed(), { name: 'gemma3:27b', size: 19_069_747_200 }])
  await until(() => (named('gemma3:27b').test(read(sys)) && read(sys).includes('gpu process memory(pid_15304_') ? true : undefined), 15_000, 'the second runner named, and counted')
  await sleep(4000)
  host.scene('gemma3')
  load([{ name: 'gemma3:27b', size: 19_069_747_200 }])
  await sleep(6000)
  const toS = Math.ceil(Date.now() / 1000)
  // Prometheus has scraped the last sample before the daemon stops.
  await sleep(2000)
  const stop = memtrace(['stop', '--dir', trace], env)
  t.equal(stop.code, 0, stop.stderr)
  await until(() => (gone(pid) ? true : undefined), 5000, 'the daemon to exit')

  const fromTrace = memtrace(['render', '--dir', trace, '-o', join(dir, 'trace.svg'), '--tz', 'UTC', '--json'])
  t.equal(fromTrace.code, 0, fromTrace.stderr)
  const fromProm = memtrace(['render', '--prometheus', prom, '--instance', instance, '--from', String(fromS), '--to', String(toS), '--step', '1s', '-o', join(dir, 'prom.svg'), '--tz', 'UTC', '--json'])
  t.equal(fromProm.code, 0, fromProm.stderr)
  t.notMatch(fromProm.stderr, /skipped/, 'every figure written back reads')

  const svg = readFileSync(join(dir, 'prom.svg'), 'utf8')
  for (const series of ['commit', 'commit-limit', 'available', 'used']) t.match(svg, new RegExp(`data-series="${series}"`), `the system panel draws ${series}, as for a Windows trace`)
  const runners = (stdout: string) => stdout.trim().split('\n').map(l => JSON.parse(l) as { record: string; pid?: number; model?: string; gpuBytes?: number }).filter(x => x.record === 'runner-memory')
  const traced = runners(fromTrace.stdout)
  const scraped = runners(fromProm.stdout)
  for (const pid of [14520, 15304]) {
    const a = traced.find(x => x.pid === pid)
    const b = scraped.find(x => x.pid === pid)
    t.equal(b?.model, a?.model, `runner ${pid}: ${a?.model}`)
    t.ok(a?.gpuBytes !== undefined && a.gpuBytes > 0, `the trace gives runner ${pid} its own GPU memory (${a?.gpuBytes})`)
    t.equal(b?.gpuBytes, a?.gpuBytes, `runner ${pid}: the same GPU memory, its adapters added, back from Prometheus`)
  }
})
