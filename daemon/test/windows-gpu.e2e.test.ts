import t from 'tap'
import type { Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { readLock } from '../lock.js'
import { gone, memtrace, read, traceFiles, until } from './helpers.js'
import { models, windowsHost, windowsUser } from './windows-host.js'

/**
 * The simulated Windows PC of windows.e2e.test.ts, with its GPU counters:
 * each runner's GPU memory from `\GPU Process Memory(*)\Dedicated Usage`
 * (fixtures/windows/processes-*.txt, README there), drawn by `render`.
 */
async function run(t: Test, noCounters: boolean) {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  if (noCounters) writeFileSync(join(dir, 'no-gpu-counters'), '')
  const home = join(dir, 'home')
  const trace = join(dir, 'trace')
  const { env, load, listed, pid } = await windowsUser(t, host, home, trace)
  const { proc, sys } = traceFiles(trace)
  const named = (model: string) => new RegExp(`memtrace runner \\{[^\\n]*"model":"${model.replace('.', '\\.')}"`)
  // A system sample after the runner was traced: its instances were asked for with the memory figures.
  const counted = (runner: number) => noCounters || read(sys).includes(`gpu process memory(pid_${runner}_`)
  await until(() => named('llama3.1:8b').test(read(sys)) && counted(14520), 10_000, 'the first runner named, and counted')
  host.scene('switch')
  load([...listed(), { name: 'gemma3:27b', size: 19_069_747_200 }])
  await until(() => named('gemma3:27b').test(read(sys)) && counted(15304), 10_000, 'the second runner named, and counted')
  host.scene('gemma3')
  load([{ name: 'gemma3:27b', size: 19_069_747_200 }])
  await until(() => !read(proc).trim().split('\n').pop()?.includes('\t14520\t') && /memtrace runner \{[^\n]*"pid":15304/.test(read(sys)), 10_000, 'the first runner gone')
  await until(() => (read(sys).match(/^===== /gm)?.length ?? 0) >= 8, 10_000, 'a few more system samples')
  const stop = memtrace(['stop', '--dir', trace], env)
  t.equal(stop.code, 0, stop.stderr)
  await until(() => gone(pid), 5000, 'the daemon to exit')
  const r = memtrace(['render', '--dir', trace, '-o', join(dir, 'chart.svg'), '--tz', 'UTC', '--json'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '', 'nothing in the trace is reported')
  const records = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
  return { log: read(sys), records, runners: records.filter(x => x.record === 'runner-memory') }
}

t.test('a simulated Windows PC with GPU counters: each runner holds its own GPU memory, its adapters added, to the byte', async t => {
  const { log, records, runners } = await run(t, false)
  t.match(log, /^Timestamp {17}CounterSamples$/m, "in Get-Counter's layout")
  t.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}[+-]\d\d:\d\d \\\\desktop-zoe\\gpu process memory\(pid_14520_luid_0x00000000_0x000095ca_phys_0\)\\dedicated usage :$/m)
  // Each block's counters were read at its own time, not at the sample before: the read's time (the script's 'o') at or after the block's.
  const reads = [...log.matchAll(/^===== (\S+) =====\n(?:(?!=====)[^\n]*\n)*?(\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d) \\\\desktop-zoe/gm)].map(m => Date.parse(m[2] as string) - Date.parse(m[1] as string))
  t.ok(reads.length >= 4, `the counters in ${reads.length} blocks`)
  t.same(reads.filter(d => d < 0 || d > 3000), [], 'each read from 0 to 3 s after its block\'s time (ms), none from a sample before')
  t.notMatch(log, /pid_(1424|6120)_/, 'only the traced processes: not the desktop window manager nor Explorer')
  t.notMatch(log, /pid_11872_/, 'the server has no instance: no line, no figure')
  const of = (pid: number) => runners.find(x => x.pid === pid)
  t.equal(of(14520)?.model, 'llama3.1:8b')
  t.equal(of(14520)?.gpuBytes, 4_915_724_288 + 134_217_728, 'the NVIDIA and the Intel instance added')
  t.equal(of(15304)?.model, 'gemma3:27b')
  t.equal(of(15304)?.gpuBytes, 18_253_611_008, 'its most while it ran (16 GiB, then 17 GiB)')
  const texts = records.filter(x => x.record === 'finding').map(x => String(x.text))
  t.ok(texts.some(x => x.includes("Windows' GPU counters gave pid 15304")), `a finding names the counters as the source: ${texts.join(' | ')}`)
  t.notOk(texts.some(x => x.includes('nvidia-smi')), 'nor names nvidia-smi, which gave nothing here')
})

t.test('a Windows PC whose GPU counters cannot be read: said once, as skipped; no runner is given a GPU figure', async t => {
  const { log, runners } = await run(t, true)
  const said = log.match(/memtrace source-error \{[^\n]*GPU Process Memory counters cannot be read[^\n]*/g) ?? []
  t.equal(said.length, 1, 'once')
  t.match(said[0], /Category does not exist\.[^\n]*skipped/)
  t.notMatch(log, /gpu process memory\(/)
  t.same(runners.map(x => x.pid).sort(), [14520, 15304])
  for (const x of runners) t.equal(x.gpuBytes, undefined, `pid ${x.pid}: no GPU figure, not zero`)
})

t.test('GPU counters that fail after working: no earlier read written again; the failure and the give-up each said once', async t => {
  const dir = t.testdir({})
  const host = windowsHost(dir)
  const home = join(dir, 'home')
  models(home)
  const api = createServer((_q, r) => r.end(JSON.stringify({ models: [] })))
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  t.teardown(() => api.close())
  const env = { ...host.env, HOME: home, USERPROFILE: home, LOCALAPPDATA: join(home, 'AppData', 'Local'), OLLAMA_MODELS: '' }
  const trace = join(dir, 'trace')
  const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`
  const started = memtrace(['start', '--dir', trace, '--ollama-url', url, '--interval', '500ms', '--system-interval', '1s'], env)
  t.equal(started.code, 0, started.stderr)
  const pid = readLock(trace)?.pid as number
  t.teardown(() => {
    if (!gone(pid)) process.kill(pid, 'SIGKILL')
  })
  const { sys } = traceFiles(trace)
  const counted = /gpu process memory\(pid_14520_/g
  await until(() => (read(sys).match(counted)?.length ?? 0) >= 4, 10_000, 'two blocks with the runner counted')
  // The scene changes: from the next answer on, the counters cannot be read.
  writeFileSync(join(dir, 'no-gpu-counters'), '')
  await until(() => /no longer asked/.test(read(sys)), 15_000, 'the counters given up')
  await until(() => (read(sys).split(/no longer asked/)[1]?.match(/^===== /gm)?.length ?? 0) >= 2, 10_000, 'two more system samples')
  const stop = memtrace(['stop', '--dir', trace], env)
  t.equal(stop.code, 0, stop.stderr)
  await until(() => gone(pid), 5000, 'the daemon to exit')
  const log = read(sys)
  const failed = log.match(/memtrace source-error \{[^\n]*GPU Process Memory counters cannot be read[^\n]*/g) ?? []
  t.equal(failed.length, 1, 'the change from working to failing said once')
  t.equal(log.match(/memtrace source-error \{[^\n]*failed 3 times in a row: no longer asked[^\n]*/g)?.length, 1, 'the give-up said once')
  const blocks = log.split(/^(?====== )/m)
  const at = blocks.findIndex(b => b.includes('GPU Process Memory counters cannot be read'))
  t.ok(at > 0 && blocks.slice(0, at).some(b => b.includes('gpu process memory(pid_14520_')), 'the runner was counted before')
  t.same(blocks.slice(at).filter(b => b.includes('gpu process memory(')).length, 0, 'from the failing read on, no GPU rows: the last good read is not written again under a later time')
})
