/**
 * The fleet page against the real thing: Debian's Prometheus run with the
 * documented configuration (docs/prometheus/prometheus.yml: the host found
 * through targets.json, instance relabelled to the host without its port,
 * the alert and recording rules loaded) scrapes a daemon tracing the Ollama
 * stand-in with a model loaded. Every query of the hosts' table answers for
 * that host, and the per-host panels' queries answer with data.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { installStandin } from '../../standin/install.js'
import { freePort, memtrace, ROOT, sleep } from './helpers.js'

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
interface Panel { title: string; type: string; targets?: { refId: string; expr: string }[] }

t.test('the documented Prometheus, with file-based discovery and the recording rules, answers every query of the fleet page', async t => {
  if (!have('prometheus')) {
    t.fail("Debian's prometheus is not installed: `make prometheus` installs it (apt-get install prometheus), and `make test` runs that first")
    return
  }
  const traces: string[] = []
  t.teardown(() => {
    for (const trace of traces) memtrace(['stop', '--dir', trace])
  })
  const dir = t.testdir({})
  const { bin, ollama } = installStandin(join(dir, 'standin'))
  const [ollamaPort, metricsPort, promPort] = [await freePort(), await freePort(), await freePort()]
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, OLLAMA_HOST: `127.0.0.1:${ollamaPort}`, OLLAMA_MODELS: join(dir, 'models'), OLLAMA_STANDIN_RUNNER: 'simulated', OLLAMA_STANDIN_SCALE: '0.02' }
  spawnSync(ollama, ['pull', 'qwen3:8b'], { env })
  const serve = spawn(ollama, ['serve'], { env, stdio: 'ignore' })
  t.teardown(() => serve.kill())
  const url = `http://127.0.0.1:${ollamaPort}`
  for (let i = 0; i < 50 && !(await fetch(url).then(() => true, () => false)); i++) await sleep(100)

  const trace = join(dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--ollama-url', url, '--metrics', `127.0.0.1:${metricsPort}`, '--system-interval', '1s'])
  t.equal(started.code, 0, started.stderr)
  traces.push(trace)

  // The documented files as they are, at a test's pace: scraped and evaluated every second.
  const docs = join(ROOT, 'docs', 'prometheus')
  for (const f of ['alerts.yml', 'recording.yml']) copyFileSync(join(docs, f), join(dir, f))
  const config = readFileSync(join(docs, 'prometheus.yml'), 'utf8').replace('scrape_interval: 5s', 'scrape_interval: 1s').replace('evaluation_interval: 15s', 'evaluation_interval: 1s')
  t.not(config, readFileSync(join(docs, 'prometheus.yml'), 'utf8'), 'the intervals were shortened')
  writeFileSync(join(dir, 'prometheus.yml'), config)
  writeFileSync(join(dir, 'targets.json'), JSON.stringify([{ targets: [`127.0.0.1:${metricsPort}`], labels: { rack: 'test' } }]))
  const prom = `http://127.0.0.1:${promPort}`
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' })
  t.teardown(() => prometheus.kill())
  for (let i = 0; i < 100 && !(await fetch(`${prom}/-/ready`).then(r => r.ok, () => false)); i++) await sleep(100)

  const run = (...args: string[]) => new Promise<number>(ok => spawn(ollama, args, { env, stdio: 'ignore' }).once('exit', c => ok(c ?? 1)))
  t.equal(await run('run', 'qwen3:8b', 'hi'), 0)
  await sleep(8000)

  const query = async (expr: string) => {
    const body = (await (await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } }
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`)
    return body.data?.result ?? []
  }
  const host = '127.0.0.1' // the target's address without its port, as the relabelling names it
  const up = await query('up{job="memtrace"}')
  t.same(up.map(r => [r.metric.instance, r.metric.rack, r.value[1]]), [[host, 'test', '1']], 'found through targets.json, instance without the port, the file\'s labels kept')

  const dash = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana', 'memtrace-fleet.json'), 'utf8')) as { panels: Panel[] }
  const table = dash.panels.find(p => p.type === 'table') as Panel
  const row = new Map<string, string | undefined>()
  for (const x of table.targets ?? []) {
    const res = await query(x.expr)
    row.set(x.refId, res.find(r => r.metric.instance === host)?.value[1])
  }
  t.equal(row.get('UP'), '1', 'scraped')
  t.ok(Number(row.get('FREE')) > 0 && Number(row.get('FREE')) < 1, `free memory ${row.get('FREE')}`)
  // The daemon traces every runner on the host: other Ollama servers' may be alive too.
  t.ok(Number(row.get('RUN')) >= 1, `runners alive: ${row.get('RUN')}, the model loaded among them`)
  t.equal(row.get('ORPH'), '0', 'no orphan')
  t.ok(row.get('ALERT') !== undefined, `firing alerts counted (${row.get('ALERT')})`)
  if (readFileSync('/proc/pressure/memory', 'utf8').includes('full')) t.ok(Number(row.get('FULL')) >= 0, `PSI full: ${row.get('FULL')}`)

  // The per-host panels for this host: each answers, and the ones every host has answer with data.
  const must = ['Ollama processes: resident memory (RSS) A', 'Ollama processes: resident memory (RSS) B', 'Ollama processes: resident memory (RSS) C', 'System memory A', 'System memory B', 'Free memory and pressure A', 'Runners, orphans, and what killed them A', 'Runners, orphans, and what killed them B']
  const answered: string[] = []
  for (const p of dash.panels.filter(p => p.type === 'timeseries')) {
    for (const x of p.targets ?? []) {
      const res = await query(x.expr.replaceAll('$instance', host).replaceAll('$__rate_interval', '1m'))
      if (res.length > 0) answered.push(`${p.title} ${x.refId}`)
    }
  }
  t.same(must.filter(m => !answered.includes(m)), [], `the per-host panels answer (${answered.length} queries with data)`)
  const runner = await query(`instance_model:memtrace_runner_resident_bytes:sum{instance="${host}"}`)
  const ours = runner.find(r => r.metric.model === 'qwen3:8b')
  t.ok(ours && Number(ours.value[1]) > 0, `the runner's RSS, recorded by model: ${ours?.value[1]}`)
})
