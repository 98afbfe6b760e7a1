/**
 * The fleet path with the real thing: Debian's Prometheus scrapes a daemon
 * (`memtrace start --metrics`) that traces the Ollama stand-in through a
 * model switch, with a second server running the same model and a marker;
 * the series are checked against the daemon's own trace, and `render
 * --prometheus` at a 1 s step (the system sampled every 5 s, the default)
 * against `render` on the trace files.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { installStandin } from '../../standin/install.js'
import { freePort, memtrace, ROOT, sleep } from './helpers.js'


const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

async function query(prom: string, q: string, at?: number): Promise<{ metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]> {
  const u = new URL('/api/v1/query', prom)
  u.searchParams.set('query', q)
  if (at !== undefined) u.searchParams.set('time', String(at / 1000))
  const body = (await (await fetch(u)).json()) as { status: string; data: { result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] } }
  return body.data.result
}

t.test('Prometheus scrapes the daemon through a model switch; render --prometheus draws what render draws from the trace', async t => {
  if (!have('prometheus') || !have('promtool')) {
    t.fail("Debian's prometheus is not installed: `make prometheus` installs it (apt-get install prometheus), and `make test` runs that first")
    return
  }
  const dir = t.testdir({})
  // With the stand-in's nvidia-smi: GPU series, and each runner's own GPU memory for the accounting ratio.
  const { bin, ollama } = installStandin(join(dir, 'standin'), { gpu: true })
  const [ollamaPort, metricsPort, promPort] = [await freePort(), await freePort(), await freePort()]
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, OLLAMA_HOST: `127.0.0.1:${ollamaPort}`, OLLAMA_MODELS: join(dir, 'models'), OLLAMA_STANDIN_RUNNER: 'simulated', OLLAMA_STANDIN_SCALE: '0.02' }
  // Models no other test pulls: the series of this run are this run's.
  spawnSync(ollama, ['pull', 'qwen3:8b', 'phi4:14b'], { env })
  const serve = spawn(ollama, ['serve'], { env, stdio: 'ignore' })
  t.teardown(() => serve.kill())
  // A second server on the host, which will run one of the same models: its runner must stay apart.
  const env2 = { ...env, OLLAMA_HOST: `127.0.0.1:${await freePort()}` }
  const serve2 = spawn(ollama, ['serve'], { env: env2, stdio: 'ignore' })
  t.teardown(() => serve2.kill())
  const url = `http://127.0.0.1:${ollamaPort}`
  for (const u of [url, `http://${env2.OLLAMA_HOST}`]) for (let i = 0; i < 50 && !(await fetch(u).then(() => true, () => false)); i++) await sleep(100)

  const trace = join(dir, 'trace')
  const instance = `127.0.0.1:${metricsPort}`
  const started = memtrace(['start', '--dir', trace, '--ollama-url', url, '--metrics', instance], env)
  t.equal(started.code, 0, started.stderr)
  const fromMs = Date.now()

  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: memtrace\n    static_configs:\n      - targets: ['${instance}']\n`)
  const prom = `http://127.0.0.1:${promPort}`
  const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: 'ignore' })
  t.teardown(() => prometheus.kill())
  for (let i = 0; i < 100 && !(await fetch(`${prom}/-/ready`).then(r => r.ok, () => false)); i++) await sleep(100)

  const run = (...args: string[]) => new Promise<number>(ok => spawn(ollama, args, { env, stdio: 'ignore' }).once('exit', c => ok(c ?? 1)))
  const run2 = (...args: string[]) => new Promise<number>(ok => spawn(ollama, args, { env: env2, stdio: 'ignore' }).once('exit', c => ok(c ?? 1)))
  await sleep(2000)
  t.equal(await run('run', 'qwen3:8b', 'hi'), 0)
  t.equal(await run2('run', 'qwen3:8b', 'hi'), 0) // the same model on the other server: two runners of one model
  await sleep(4000)
  t.equal(memtrace(['mark', '--dir', trace, 'switch to phi4']).code, 0)
  const switchMs = Date.now()
  t.equal(await run('run', 'phi4:14b', 'hi'), 0) // qwen3:8b is still loaded: the overlap
  await sleep(5000)
  t.equal(await run('stop', 'qwen3:8b'), 0)
  await sleep(3000)

  const scrape = await (await fetch(`http://${instance}/metrics`)).text()
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: scrape, encoding: 'utf8' })
  t.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`)
  t.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'no lint problems')

  // The Grafana dashboard's queries, as Grafana would send them for this instance: each answers with data.
  const dash = JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana', 'memtrace.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string; refId: string }[] }[] }
  for (const p of dash.panels) {
    for (const target of p.targets ?? []) {
      const expr = target.expr.replaceAll('$instance', instance.replace(/[.]/g, '\\\\.')).replaceAll('$model', '.*')
      const res = await query(prom, expr, Date.now() - 2000)
      t.ok(res.length > 0, `${p.title.replace(' · $instance', '')} ${target.refId}: ${expr}`)
    }
  }

  // The kill: phi4:14b's runner, while its server lists it.
  const phi = Number((await query(prom, `memtrace_runner_info{instance="${instance}",model="phi4:14b"}`))[0]?.metric.pid)
  t.ok(phi > 1, `phi4:14b's runner is PID ${phi}`)
  const killMs = Date.now()
  process.kill(phi, 'SIGKILL')
  await sleep(7000)

  const toMs = Date.now()
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
  const names = readdirSync(trace)
  const tsv = readFileSync(join(trace, names.find(n => n.endsWith('.tsv')) as string), 'utf8')
  const log = readFileSync(join(trace, names.find(n => n.startsWith('system-') && n.endsWith('.log')) as string), 'utf8')

  // The trace: each model's runner RSS at each process sample.
  const pidModel = new Map([...log.matchAll(/memtrace runner (\{.*\})/g)].map(m => JSON.parse(m[1] as string) as { pid: number; model: string }).map(r => [r.pid, r.model]))
  const traced = new Map<string, Map<number, number>>()
  for (const row of tsv.split('\n').slice(1)) {
    const [ts, pid, , , rss] = row.split('\t')
    const model = pidModel.get(Number(pid))
    if (!ts || !model) continue
    const byTs = traced.get(model) ?? new Map<number, number>()
    byTs.set(Date.parse(ts), (byTs.get(Date.parse(ts)) ?? 0) + Number(rss) * 1024)
    traced.set(model, byTs)
  }
  for (const model of ['qwen3:8b', 'phi4:14b']) {
    t.ok(traced.has(model), `the trace has ${model}'s runner`)
    const raw = await query(prom, `memtrace_process_resident_bytes{instance="${instance}",role="runner",model="${model}"}[2m]`, toMs)
    const points = raw[0]?.values ?? []
    t.ok(points.length >= 3, `${model}: ${points.length} scraped points`)
    // Each scrape answers from the last sample: its value is the trace's at a sample no more than one interval (1 s) before it.
    const off = points.filter(([at, v]) => ![...(traced.get(model) ?? new Map<number, number>())].some(([ts, rss]) => rss === Number(v) && ts <= at * 1000 + 50 && at * 1000 - ts <= 2100))
    t.same(off.map(([at, v]) => `${new Date(at * 1000).toISOString()} ${v}`), [], `${model}: every scraped value is the trace's at the sample before the scrape`)
  }
  // Each server's own overlaps (the switch is on the first server's): summed over the host.
  const overlap = async (ms: number) => Number((await query(prom, `sum(memtrace_runner_overlap_seconds_total{instance="${instance}"})`, ms))[0]?.value?.[1] ?? NaN)
  const before = await overlap(switchMs - 1000)
  const after = await overlap(toMs)
  t.ok(after - before >= 3, `the overlap counter grew during the switch: ${before} s → ${after} s`)
  const up = await query(prom, `memtrace_ollama_up{instance="${instance}"}`, toMs - 2000)
  // This test's two servers (the host may run others, which the daemon asks too).
  const upOf = (address: string) => up.find(u => u.metric.server === address)?.value?.[1]
  t.same([upOf(`127.0.0.1:${ollamaPort}`), upOf(env2.OLLAMA_HOST)], ['1', '1'], `each of the two servers answered, by its address: ${JSON.stringify(up.map(u => u.metric))}`)
  t.same((await query(prom, `memtrace_build_info{instance="${instance}"}`, toMs - 2000)).map(b => b.metric.node_version), [process.version])
  t.same(await query(prom, `{instance="${instance}", __name__=~"process_.*|nodejs_.*"}`, toMs - 2000), [], "memtrace's own runtime figures only with --metrics-runtime")
  t.ok((await query(prom, `memtrace_runner_info{instance="${instance}",model="phi4:14b"}`, killMs - 1000)).length === 1, 'runner_info names the runner, with its PID')

  // The same chart and findings from Prometheus as from the trace files.
  const fromFiles = memtrace(['render', '--dir', trace, '-o', join(dir, 'files.svg'), '--json'])
  t.equal(fromFiles.code, 0, fromFiles.stderr)
  const fromProm = memtrace(['render', '--prometheus', prom, '--instance', instance, '--from', String(fromMs / 1000), '--to', String(toMs / 1000), '-o', join(dir, 'prom.svg'), '--json', '--tz', 'UTC'])
  t.equal(fromProm.code, 0, fromProm.stderr)
  // This test's servers and runners only: the host may run other Ollama servers, which the daemon traces too.
  const ours = (l: string) => l === `server ${serve.pid}` || l === `server ${serve2.pid}` || / (qwen3:8b|phi4:14b)$/.test(l)
  const runnerPids = (svg: string) => [...svg.matchAll(/class="rss-line" data-pid="(\d+)" data-role="(server|runner)"(?: data-model="([^"]+)")?/g)].map(m => `${m[2]} ${m[1]}${m[3] ? ` ${m[3]}` : ''}`).filter(ours).sort()
  const runnerModels = (svg: string) => [...new Set([...svg.matchAll(/class="rss-line"[^>]*data-role="runner"[^>]*data-model="([^"]+)"/g)].map(m => m[1]))].filter(m => m === 'qwen3:8b' || m === 'phi4:14b').sort()
  const filesSvg = readFileSync(join(dir, 'files.svg'), 'utf8')
  const promSvg = readFileSync(join(dir, 'prom.svg'), 'utf8')
  t.same(runnerModels(promSvg), runnerModels(filesSvg), 'the same runner lines')
  t.same(runnerModels(promSvg), ['phi4:14b', 'qwen3:8b'])
  t.same(runnerPids(promSvg), runnerPids(filesSvg), 'each server and each runner apart, by PID, as in the trace')
  t.equal(runnerPids(filesSvg).filter(l => l.endsWith(' qwen3:8b')).length, 2, 'two runners of qwen3:8b, one per server')
  t.equal(runnerPids(filesSvg).filter(l => l.startsWith('server ')).length, 2, 'two servers')
  const markers = (svg: string) => [...svg.matchAll(/<g class="marker[^"]*" data-ts="([^"]+)"[^>]*>.*?<text[^>]*>([^<]*)</g)].map(m => `${m[1]} ${m[2]}`)
  t.same(markers(promSvg), markers(filesSvg), 'the marker, at its time, from both')
  t.equal(markers(filesSvg).length, 1)
  // No finding the trace does not have: at 1 s, the /api/ps listings are read every 5 s, as the daemon took them.
  const kinds = (stdout: string) =>
    [...new Set(stdout.split('\n').flatMap(l => {
      const f = (l.startsWith('{') ? JSON.parse(l) : {}) as { kind?: string; models?: string[] }
      return f.kind && (f.models ?? []).some(m => m === 'qwen3:8b' || m === 'phi4:14b') ? [f.kind] : []
    }))].sort()
  t.same(kinds(fromProm.stdout).filter(k => !kinds(fromFiles.stdout).includes(k)), [], `Prometheus finds nothing the trace does not: ${kinds(fromProm.stdout).join(', ')}`)
  t.same(kinds(fromProm.stdout), kinds(fromFiles.stdout), 'the same kinds of finding')
  t.notOk(kinds(fromProm.stdout).includes('orphan-runner'), 'no false orphan')
  t.notOk(kinds(fromProm.stdout).includes('runner-gone-while-listed'), 'no false runner gone while listed')
  // The kill, counted as the findings count it: a death while listed where the trace has one, none where not.
  // This test's two servers only: the host may run others.
  let deaths = 0
  for (const server of [`127.0.0.1:${ollamaPort}`, env2.OLLAMA_HOST]) deaths += Number((await query(prom, `memtrace_runner_deaths_while_listed_total{instance="${instance}",server="${server}"}`, toMs))[0]?.value?.[1] ?? NaN)
  t.equal(deaths > 0, kinds(fromFiles.stdout).includes('runner-gone-while-listed'), `memtrace_runner_deaths_while_listed_total (${deaths}) agrees with the trace's findings (${kinds(fromFiles.stdout).join(', ')})`)
  t.match(promSvg, /Prometheus http:\/\/127\.0\.0\.1:\d+\/ · instance 127\.0\.0\.1:\d+ · every 1 s/, 'the chart names its source')
  // The switch is an overlap band (a finding too only when memory ran short while they overlapped).
  const bands = (svg: string) => [...svg.matchAll(/<rect class="runner-overlap" data-panel="processes"/g)].length
  t.ok(bands(filesSvg) >= 1, 'the trace files: the switch is an overlap')
  t.equal(bands(promSvg), bands(filesSvg), 'Prometheus: the same overlaps')
})
