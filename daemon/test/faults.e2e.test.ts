import t from 'tap'
import { createServer, type Server } from 'node:http'
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deadUrl, exited, foreground, memtrace, read, sleep, traceFiles, until } from './helpers.js'
import { parseSys } from '../../core/test/helpers.js'

const FAST = ['--interval', '500ms', '--system-interval', '1s']
let DEAD = ''

t.before(async () => {
  DEAD = await deadUrl()
})

/** A fake `ollama` CLI on PATH that only records that it was called. */
function fakeOllamaCli(dir: string): { env: NodeJS.ProcessEnv; calls: () => number } {
  const bin = join(dir, 'bin')
  const log = join(dir, 'ollama-calls')
  mkdirSync(bin, { recursive: true })
  writeFileSync(join(bin, 'ollama'), `#!/bin/sh\necho "$@" >> '${log}'\necho 'NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL '\n`)
  chmodSync(join(bin, 'ollama'), 0o755)
  // and an nvidia-smi that prints what a one-GPU host's prints (the same query the daemon makes)
  writeFileSync(
    join(bin, 'nvidia-smi'),
    '#!/bin/sh\n[ "$2" = "--format=csv" ] || exit 2\ncase "$1" in\n' +
      `  --query-gpu=index,uuid,name,memory.used,memory.total) printf 'index, uuid, name, memory.used [MiB], memory.total [MiB]\\n0, GPU-5f2c3c1e-0e8e-4c55-9a0c-1b6f0c1d2e3f, NVIDIA H100 80GB HBM3, 1234 MiB, 81559 MiB\\n' ;;\n` +
      `  --query-compute-apps=gpu_uuid,pid,used_memory) printf 'gpu_uuid, pid, used_gpu_memory [MiB]\\nGPU-5f2c3c1e-0e8e-4c55-9a0c-1b6f0c1d2e3f, 4412, 1100 MiB\\n' ;;\n` +
      '  *) exit 2 ;;\nesac\n',
  )
  chmodSync(join(bin, 'nvidia-smi'), 0o755)
  return { env: { PATH: `${bin}:${process.env.PATH}` }, calls: () => read(log).split('\n').filter(Boolean).length }
}

async function httpServer(handler: (res: import('node:http').ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => handler(res))
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok))
  const addr = server.address() as { port: number }
  return { url: `http://127.0.0.1:${addr.port}`, server }
}

t.test('server down: recorded in every block, sampling goes on, and the CLI is never run', async t => {
  const dir = t.testdir({})
  const cli = fakeOllamaCli(dir)
  const d = foreground(['--dir', join(dir, 'trace'), '--ollama-url', DEAD, ...FAST], cli.env)
  await sleep(3600)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const log = read(traceFiles(join(dir, 'trace')).sys)
  const parsed = parseSys(log)
  // A stop may add one more block with only the events no tick wrote; every sampled block asked the server.
  const blocks = parsed.blocks.filter(b => b.sample.sections.length > 0).length
  t.ok(blocks >= 2, `${blocks} sampled blocks`)
  t.equal((log.match(/memtrace source-error \{[^\n]*"source":"api-ps"[^\n]*ECONNREFUSED/g) ?? []).length, blocks, 'each sampled block says the server did not answer')
  t.equal(cli.calls(), 0, 'ollama ps is not run while /api/ps does not answer')
  t.match(log, /index, uuid, name, memory\.used \[MiB\], memory\.total \[MiB\]\n0, GPU-5f2c[-0-9a-f]+, NVIDIA H100 80GB HBM3, 1234 MiB, 81559 MiB\n/, 'GPU memory from nvidia-smi')
  t.match(log, /gpu_uuid, pid, used_gpu_memory \[MiB\]\nGPU-5f2c[-0-9a-f]+, 4412, 1100 MiB\n/, 'and what each process holds on it, by PID')
  t.equal(parsed.problems.total, 0, parsed.problems.summary().join('; '))
  // The last sampled block: a stop may add one more with only the events no tick wrote.
  t.same(parsed.blocks.filter(b => b.sample.sections.includes('nvidia-smi')).at(-1)?.sample.gpuProcesses, [{ gpu: 0, pid: 4412, type: 'C', usedBytes: 1100 * 1024 ** 2 }], 'read back: PID 4412 holds 1100 MiB on GPU 0')
})

t.test('a slow server and a garbage answer are recorded; the process sampler keeps its pace', async t => {
  const dir = t.testdir({})
  const slow = await httpServer(res => setTimeout(() => res.end('{"models":[]}'), 5000))
  t.teardown(() => slow.server.close())
  const d = foreground(['--dir', join(dir, 'slow'), '--ollama-url', slow.url, ...FAST])
  await sleep(5200)
  d.kill('SIGTERM')
  const ex = await exited(d)
  t.equal(ex.code, 0)
  const st = JSON.parse(read(join(dir, 'slow', 'memtrace.status.json'))) as { processSamples: number; missedTicks: { process: number } }
  t.ok(st.processSamples >= 8, `${st.processSamples} process samples in ~5 s at 2 Hz`)
  t.equal(st.missedTicks.process, 0, 'the slow server does not hold up process sampling')
  t.match(read(traceFiles(join(dir, 'slow')).sys), /"source":"api-ps","message":"[^"]*no answer within 2000 ms"/)
  const junk = await httpServer(res => res.end('<html>502 Bad Gateway</html>'))
  t.teardown(() => junk.server.close())
  const j = foreground(['--dir', join(dir, 'junk'), '--ollama-url', junk.url, ...FAST])
  await sleep(2300)
  j.kill('SIGTERM')
  await exited(j)
  const log = read(traceFiles(join(dir, 'junk')).sys)
  t.match(log, /"source":"api-ps","message":"[^"]*answer is not JSON/)
  t.notMatch(log, /^<html>/m, 'the garbage itself is not put among the sources')
})

t.test('SIGTERM: exits 0 within 2 s, files closed whole, lock released', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST])
  await sleep(2200)
  const t0 = Date.now()
  d.kill('SIGTERM')
  const ex = await exited(d)
  t.equal(ex.code, 0)
  t.ok(Date.now() - t0 < 2000, `stopped in ${Date.now() - t0} ms`)
  const { proc, sys } = traceFiles(trace)
  t.ok(read(proc).endsWith('\n') && read(sys).endsWith('\n'), 'every line complete')
  t.notOk(existsSync(join(trace, 'memtrace.lock')))
})

t.test('SIGHUP reopens the files: rotation loses nothing', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, ...FAST])
  await sleep(2200)
  const { proc, sys } = traceFiles(trace)
  renameSync(proc, `${proc}.1`)
  renameSync(sys, `${sys}.1`)
  d.kill('SIGHUP')
  await sleep(2200)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  t.match(read(`${sys}.1`), /^===== /, 'the rotated file kept what was written before')
  t.match(read(sys), /^===== /, 'a fresh file at the old path')
  t.match(read(proc), /^ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\tv2\n/, 'a fresh process trace starts with its header')
})

t.test('kill -9 mid-run: every completed sample is on disk and renders', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', DEAD, '--match', 'node|ollama', ...FAST])
  await sleep(3300)
  d.kill('SIGKILL')
  await exited(d)
  const { proc, sys } = traceFiles(trace)
  const rows = read(proc)
  t.ok(rows.endsWith('\n'), 'no half-written row')
  t.ok(rows.split('\n').length > 5, 'rows were written as they were sampled')
  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', proc, sys, out, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /truncated-line/)
  t.ok(existsSync(out))
})

t.test('the trace directory removed while running: a clear error in the log and in status', async t => {
  // Stopped before tap removes the folder: a teardown made after t.testdir runs once it is gone, and the daemon lives on.
  const trace = join(t.testdirName, 'trace')
  t.teardown(() => memtrace(['stop', '--dir', trace]))
  t.testdir({})
  const started = memtrace(['start', '--dir', trace, '--ollama-url', DEAD, ...FAST])
  t.equal(started.code, 0, started.stderr)
  await sleep(1500)
  rmSync(trace, { recursive: true, force: true })
  await until(() => existsSync(join(trace, 'memtrace.status.json')) || undefined, 5000, 'the daemon to notice')
  await sleep(1200)
  const st = memtrace(['status', '--dir', trace])
  t.equal(st.code, 0)
  t.match(st.stdout, /last error: .*the trace directory .* was removed while tracing/)
  t.match(read(join(trace, 'memtrace.log')), /was removed while tracing/)
  t.ok(traceFiles(trace).proc, 'tracing goes on in new files')
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
})

t.test('a marker lands in the next block at the time it was made', async t => {
  const dir = t.testdir({})
  const trace = join(dir, 'trace')
  t.equal(memtrace(['start', '--dir', trace, '--ollama-url', DEAD, ...FAST]).code, 0)
  const m = memtrace(['mark', '--dir', trace, 'switched to llama3.3:70b'])
  t.equal(m.code, 0, m.stderr)
  const ts = /marked (\S+):/.exec(m.stdout)?.[1]
  await sleep(1600)
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
  t.match(read(traceFiles(trace).sys), `memtrace marker {"ts":"${ts}","text":"switched to llama3.3:70b"}`)
})

t.test('stop while `ollama ps` hangs: exits within 2 s, writes the block gathered, marks the source timed out', async t => {
  const dir = t.testdir({})
  const bin = join(dir, 'bin')
  const calls = join(dir, 'calls')
  mkdirSync(bin)
  // A shell that waits on a child: the child keeps the output pipe open even after the shell is killed.
  writeFileSync(join(bin, 'ollama'), `#!/bin/sh\necho ps >> '${calls}'\nsleep 30\n`)
  chmodSync(join(bin, 'ollama'), 0o755)
  const api = await httpServer(res => res.end('{"models":[]}'))
  t.teardown(() => api.server.close())
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', api.url, ...FAST], { PATH: `${bin}:${process.env.PATH}` })
  await until(() => read(calls) || undefined, 10_000, 'the daemon to run ollama ps')
  await sleep(300)
  const t0 = Date.now()
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const ms = Date.now() - t0
  t.ok(ms < 2000, `stopped in ${ms} ms`)
  const log = read(traceFiles(trace).sys)
  const last = log.slice(log.lastIndexOf('===== '))
  t.ok(log.endsWith('\n'), 'the last block is whole')
  t.match(last, /memtrace source-error \{[^\n]*"source":"ollama-ps","message":"ollama: no answer within \d+ ms \(stopped waiting: the daemon is stopping\)"/, 'the hanging source is marked timed out')
  t.match(last, /^\{"models":\[\]\}$/m, 'what was gathered is written')
  const st = JSON.parse(read(join(trace, 'memtrace.status.json'))) as { running: boolean; lastError?: { message: string } }
  t.equal(st.running, false, 'the status file says stopped')
  t.notMatch(st.lastError?.message ?? '', /undefined/)
  t.notOk(existsSync(join(trace, 'memtrace.lock')))
})
