import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { installStandin } from '../install.js'
import { findModel } from '../catalogue.js'
import { read, sleep, standinServer } from '../../daemon/test/helpers.js'

/** The simulated runner: it holds a share of each model's size and generates at a fixed pace. */
const serve = (t: import('tap').Test, env: Record<string, string>, models?: string[], install?: string) => standinServer(t, { OLLAMA_STANDIN_RUNNER: 'simulated', ...env }, models, install)

t.test('/api/ps: Ollama fields, runner argv of 0.30, memory really held', async t => {
  const s = await serve(t, {})
  t.same(await s.ps(), [], 'nothing loaded: {"models":[]}')
  const r = await s.post({ model: 'llama3.2:3b', prompt: 'hi' })
  t.equal(r.done, true)
  const [m] = await s.ps()
  t.match(m, { name: 'llama3.2:3b', model: 'llama3.2:3b', context_length: 4096, details: { format: 'gguf', family: 'llama', parameter_size: '3.2B', quantization_level: 'Q4_K_M' } })
  t.match(String(m?.digest), /^[0-9a-f]{64}$/)
  t.equal(m?.size, m?.size_vram)
  t.match(String(m?.expires_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/)
  const [line] = s.runners()
  t.match(line, /lib\/ollama\/llama-server --model \S+\/blobs\/sha256-[0-9a-f]{64} --port \d+ --host 127\.0\.0\.1 --no-webui --offline -c 4096 -np 1 /)
  const pid = Number(line?.trim().split(' ')[0])
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout)?.[1])
  t.ok(rssKb * 1024 > 0.01 * Number(m?.size), `runner RSS ${rssKb} kB holds its share of ${m?.size} bytes`)
  const tags = (await (await fetch(`${s.url}/api/tags`)).json()) as { models: { name: string }[] }
  t.same(tags.models.map(x => x.name).sort(), ['llama3.2:3b', 'qwen2.5-coder:7b'])
  const cli = spawnSync(s.ollama, ['ps'], { env: s.env, encoding: 'utf8' })
  t.match(cli.stdout, /^NAME\s+ID\s+SIZE\s+PROCESSOR\s+CONTEXT\s+UNTIL\s+\n/)
  t.match(cli.stdout, /llama3\.2:3b\s+[0-9a-f]{12}\s+2\.\d GB\s+100% GPU\s+4096\s+4 minutes from now/)
})

t.test('keep_alive 0 unloads; two models run side by side; an unknown model is refused', async t => {
  const s = await serve(t, {})
  await s.post({ model: 'llama3.2:3b', prompt: 'hi' })
  await s.post({ model: 'qwen2.5-coder:7b', prompt: 'hi' })
  t.equal(s.runners().length, 2, 'both runners alive')
  t.equal((await s.ps()).length, 2)
  const r = await s.post({ model: 'llama3.2:3b', keep_alive: 0 })
  t.equal(r.done_reason, 'unload')
  t.same((await s.ps()).map(m => m.name), ['qwen2.5-coder:7b'])
  t.equal(s.runners().length, 1)
  const bad = await s.post({ model: 'nope:1b', prompt: 'x' })
  t.match(bad.error, /model 'nope:1b' not found/)
})

t.test('OLLAMA_MAX_LOADED_MODELS=1 unloads the first before loading the second; NUM_PARALLEL widens the context', async t => {
  const s = await serve(t, { OLLAMA_MAX_LOADED_MODELS: '1', OLLAMA_NUM_PARALLEL: '4' })
  await s.post({ model: 'llama3.2:3b', prompt: 'hi' })
  const first = (await s.ps())[0]
  t.match(s.runners()[0], / -c 16384 -np 4 /, '-c is num_ctx × parallel')
  t.equal(first?.context_length, 4096, 'context_length is per slot')
  t.equal(first?.size, 2_019_393_189 + 114_688 * 4096 * 4, 'KV for every slot is counted')
  await s.post({ model: 'qwen2.5-coder:7b', prompt: 'hi' })
  t.same((await s.ps()).map(m => m.name), ['qwen2.5-coder:7b'])
  t.equal(s.runners().length, 1)
})

t.test('keep_alive runs out; negative is forever', async t => {
  const s = await serve(t, {})
  await s.post({ model: 'llama3.2:3b', prompt: 'hi', keep_alive: 1 })
  await s.post({ model: 'qwen2.5-coder:7b', prompt: 'hi', keep_alive: -1 })
  const forever = (await s.ps()).find(m => m.name === 'qwen2.5-coder:7b')
  t.match(String(forever?.expires_at), /^2318-/)
  await sleep(1600)
  t.same((await s.ps()).map(m => m.name), ['qwen2.5-coder:7b'])
})

t.test("the stand-in's nvidia-smi shows the runners of every server of its install, as one GPU does", async t => {
  const install = join(t.testdir({}), 'standin')
  const { bin } = installStandin(install, { gpu: true })
  const a = await serve(t, {}, ['llama3.2:3b'], install)
  const b = await serve(t, {}, ['qwen2.5-coder:7b'], install)
  await a.post({ model: 'llama3.2:3b', prompt: 'hi' })
  await b.post({ model: 'qwen2.5-coder:7b', prompt: 'hi' })
  const pids = [...a.runners(), ...b.runners()].map(l => l.trim().split(/\s+/)[0]).sort()
  const smi = () =>
    spawnSync(join(bin, 'nvidia-smi'), ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], { encoding: 'utf8', env: { ...process.env, OLLAMA_HOST: '127.0.0.1:9' } })
      .stdout.trim()
      .split('\n')
      .filter(Boolean)
  const sizes = new Map([...(await a.ps()), ...(await b.ps())].map(m => [m.name, Math.round(Number(m.size_vram) / 2 ** 20)]))
  t.same(smi().map(l => l.split(', ')[0]).sort(), pids, 'both runners, whichever OLLAMA_HOST asks')
  t.same(smi().map(l => Number(l.split(', ')[1])).sort(), [...sizes.values()].sort(), 'each with its size_vram in MiB')
  b.server.kill()
  await sleep(300)
  t.same(smi().map(l => l.split(', ')[0]), a.runners().map(l => l.trim().split(/\s+/)[0]), 'a server that stopped leaves its runners off')
})

t.test("its server log: Ollama 0.30's lines, which memtrace reads back to the stand-in's own figures; a small budget evicts; a killed runner is said", async t => {
  const { memtrace } = await import('../../core/test/helpers.js')
  const budget = 8 * 2 ** 30
  const s = await serve(t, { OLLAMA_STANDIN_MEMORY_BUDGET: String(budget), OLLAMA_NUM_PARALLEL: '1' })
  await s.post({ model: 'llama3.2:3b', prompt: 'hi' })
  const [first] = await s.ps()
  const firstPort = Number(/--port (\d+)/.exec(s.runners()[0] ?? '')?.[1])
  // qwen2.5-coder:7b is predicted at 4.6 GiB: more than 80 % of what is left of 8 GiB beside llama3.2:3b.
  await s.post({ model: 'qwen2.5-coder:7b', prompt: 'hi' })
  const [second] = await s.ps()
  t.same((await s.ps()).map(m => m.name), ['qwen2.5-coder:7b'], 'the first was evicted')
  const pid = Number(s.runners()[0]?.trim().split(' ')[0])
  process.kill(pid, 'SIGKILL')
  await sleep(300)
  const r = memtrace(['parse', '--server-log', s.logPath])
  t.equal(r.code, 0, r.stderr)
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, any>)
  t.same(records.filter(x => x.record === 'problem'), [], 'every line it writes reads')
  const kinds = records.map(x => x.kind)
  t.same(kinds.slice(0, 3), ['server-config', 'system-memory', 'version'])
  t.match(records[0]?.settings, { OLLAMA_NUM_PARALLEL: '1', OLLAMA_CONTEXT_LENGTH: '4096' })
  const starts = records.filter(x => x.kind === 'runner-starting')
  t.equal(starts.length, 2)
  t.equal(starts[0]?.port, firstPort, "the start names the runner's port")
  t.match(starts[0]?.model, /^sha256-[0-9a-f]{64}$/)
  t.equal(records.filter(x => x.kind === 'runner-started').length, 2)
  const evict = records.find(x => x.kind === 'eviction')
  // Ollama prints one decimal: the figure is the printed one, within 0.05 GiB of the stand-in's own.
  t.ok(Math.abs(evict?.figures.predictedBytes - Number(second?.size)) <= 0.05 * 2 ** 30, `predicted ${evict?.figures.predictedBytes} for ${second?.size}`)
  t.ok(Math.abs(evict?.figures.availableBytes - (budget - Number(first?.size))) <= 0.05 * 2 ** 30, 'available is the budget less the loaded runner')
  t.equal(evict?.systemLimited, true)
  t.equal(evict?.figures.predictedNumCtx, 4096)
  t.notOk(kinds.includes('fits'), 'nothing fitted alongside')
  const stopped = records.filter(x => x.kind === 'runner-stopped')
  t.equal(stopped.length, 1, 'the eviction is no crash; the kill is')
  t.match(stopped[0]?.text, /process has terminated: signal: killed/)
  t.notMatch(r.stdout, /--host|--no-webui/, 'no command line is printed')
})

t.test("as llama-server, the simulated runner writes llama.cpp's memory lines with the figures it simulates; as an older runner, none", async t => {
  const { memtrace } = await import('../../core/test/helpers.js')
  const s = await serve(t, { OLLAMA_NUM_PARALLEL: '2' })
  await s.post({ model: 'llama3.2:3b', prompt: 'hi' })
  const [m] = await s.ps()
  const model = findModel('llama3.2:3b')
  const kv = Number(model?.kvBytesPerToken) * 4096 * 2
  const mib = (b: number) => (b / 2 ** 20).toFixed(2).padStart(8)
  const log = read(s.logPath)
  // In llama.cpp's layout: `%s: %12s model buffer size = %8.2f MiB`, `%s: %10s KV buffer size = %8.2f MiB`.
  t.match(log, `\nload_tensors: offloaded 29/29 layers to GPU\nload_tensors:        CUDA0 model buffer size = ${mib(Number(model?.sizeBytes))} MiB\n`, "all the model's layers on the GPU, as /api/ps says")
  t.match(log, `\nllama_kv_cache:      CUDA0 KV buffer size = ${mib(kv)} MiB\n`, 'f16 K and V for 4096 cells of each of 2 sequences')
  t.match(log, /\nsched_reserve: {6}CUDA0 compute buffer size = +\d+\.\d\d MiB\n/)
  t.ok(log.indexOf('KV buffer size') < log.indexOf('llama-server started in'), 'before the server says it started')
  const r = memtrace(['parse', '--server-log', s.logPath])
  t.equal(r.code, 0, r.stderr)
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { record: string; kind?: string; component?: string; onDevice?: boolean; figures?: { sizeBytes?: number } })
  t.same(records.filter(x => x.record === 'problem'), [], 'every line reads')
  const alloc = (c: string) => records.filter(x => x.kind === 'allocation' && x.component === c)
  t.same(alloc('kv').map(x => [x.onDevice, x.figures?.sizeBytes]), [[true, kv]])
  const weights = Number(alloc('weights')[0]?.figures?.sizeBytes)
  t.ok(Math.abs(weights + kv - Number(m?.size)) <= 0.005 * 2 ** 20, `weights and KV cache, as printed, add up to what /api/ps claims (${m?.size})`)
  t.match(alloc('compute'), [{ onDevice: true, figures: { sizeBytes: Number } }])
  t.match(alloc('output'), [{ onDevice: false }], 'the logits in host memory')

  const old = await serve(t, { OLLAMA_STANDIN_VERSION: '0.7' })
  await old.post({ model: 'llama3.2:3b', prompt: 'hi' })
  t.notMatch(read(old.logPath), /buffer size|load_tensors/, "0.7's runner is not llama-server: the stand-in writes no llama.cpp line for it")
})
