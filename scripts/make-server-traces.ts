/**
 * Writes two traces for the per-server and container tests, in the daemon's
 * format (docs/format.md), deterministic like the samples:
 *
 * - `render/test/fixtures/two-servers-orphan/`: two `ollama serve` on one
 *   host (:11434 on GPU 0, :11435 on GPU 1), each running llama3.2:3b. At
 *   second 120 :11435 stops listing its model while its runner stays: an
 *   orphan of :11435, though :11434 still lists a llama3.2:3b of its own. At
 *   seconds 60 to 70 :11435 does not answer: that says nothing about its models.
 * - `render/test/fixtures/in-container/`: memtrace and Ollama in one container
 *   (a pod with a 16 GiB limit on a 64 GiB host), so every cgroup path reads
 *   `0::/` and the daemon reads the container's files at the namespace root.
 *
 * Run with `node dist/scripts/make-server-traces.js`; the captured trace of
 * two stand-in servers beside them (`two-servers/`) comes from the daemon.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as f from './sample-format.js'

const GIB = f.GIB
const MIB = 1024 ** 2
const T0 = Date.UTC(2026, 10, 20, 10, 0, 0)
const BLOB = 'sha256-dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff'
const DIGEST = 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72'

function dir(name: string): string {
  const d = join('render', 'test', 'fixtures', name)
  mkdirSync(d, { recursive: true })
  return d
}

function llama(ms: number, sizeVram = 2_800_000_000): f.Loaded {
  const exp = new Date(ms + 300_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
  return { name: 'llama3.2:3b', digest: DIGEST, size: 2_800_000_000, sizeVram, context: 4096, family: 'llama', parameterSize: '3.2B', quant: 'Q4_K_M', expiresAt: exp, until: '4 minutes from now' }
}

/** A smooth rise to `to` over `over` seconds from `from`, then flat with a little wobble. */
const rise = (from: number, over: number, base: number, to: number) => (t: number) => Math.round((t < from ? base : t >= from + over ? to + ((t * 7919) % 13) * 64 * 1024 : base + ((to - base) * (t - from)) / over) / 1024)

function twoServersOrphan(): void {
  const d = dir('two-servers-orphan')
  const seconds = 240
  const argv = (port: number) => `/usr/local/lib/ollama/llama-server --model /srv/models/blobs/${BLOB} --port ${port} --host 127.0.0.1 --no-webui --offline -c 4096 -np 1`
  const procs = [
    { pid: 1100, ppid: 1, comm: 'ollama', command: '/usr/local/bin/ollama serve', from: 0, to: seconds, kb: rise(0, 1, 60 * MIB, 60 * MIB) },
    { pid: 2100, ppid: 1, comm: 'ollama', command: '/usr/local/bin/ollama serve', from: 0, to: seconds, kb: rise(0, 1, 58 * MIB, 58 * MIB) },
    { pid: 1201, ppid: 1100, comm: 'llama-server', command: argv(40001), from: 20, to: seconds, kb: rise(20, 10, 90 * MIB, 1.4 * GIB) },
    { pid: 2201, ppid: 2100, comm: 'llama-server', command: argv(40002), from: 25, to: seconds, kb: rise(25, 10, 90 * MIB, 1.5 * GIB) },
  ]
  let tsv = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  for (let t = 0; t < seconds; t++) for (const p of procs) if (t >= p.from && t < p.to) tsv += f.procRow(T0 + t * 1000, p.pid, p.ppid, p.comm, p.kb(t), 4 * 1024 * 1024, p.command)
  writeFileSync(join(d, 'ollama-process-memtrace-20261120-100000.tsv'), tsv)
  let log = ''
  for (let t = 0; t < seconds; t += 5) {
    const ms = T0 + t * 1000
    log += `===== ${f.iso(ms)} =====\n`
    if (t === 0) log += 'memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n'
    if (t === 25) log += `memtrace runner {"pid":1201,"model":"llama3.2:3b","blob":"${BLOB}"}\nmemtrace runner {"pid":2201,"model":"llama3.2:3b","blob":"${BLOB}"}\n`
    if (t >= 60 && t <= 70) log += `memtrace source-error {"source":"api-ps","message":"http://127.0.0.1:11435/api/ps: no answer within 2000 ms"}\n`
    const gpu0 = t >= 20 ? 3.1 * GIB : 0.4 * GIB
    const gpu1 = t >= 25 ? 3.1 * GIB : 0.4 * GIB
    log += f.meminfo({ total: 64 * GIB, free: 40 * GIB, available: 52 * GIB, cached: 9 * GIB, swapTotal: 0, swapFree: 0, anon: 8 * GIB })
    log += f.nvidiaSmi([{ name: 'NVIDIA RTX A4000', used: gpu0, total: 16 * GIB }, { name: 'NVIDIA RTX A4000', used: gpu1, total: 16 * GIB }])
    log += `memtrace server {"pid":1100,"address":"127.0.0.1:11434","via":"environ"}\n`
    log += f.apiPs(t >= 20 ? [llama(ms)] : [], false)
    log += `memtrace server {"pid":2100,"address":"127.0.0.1:11435","via":"environ"}\n`
    if (t < 60 || t > 70) log += f.apiPs(t >= 25 && t < 120 ? [llama(ms)] : [], false)
    log += '\n'
  }
  writeFileSync(join(d, 'system-memtrace-20261120-100000.log'), log)
}

function inContainer(): void {
  const d = dir('in-container')
  const seconds = 300
  const limit = 16 * GIB
  const runner = `/usr/lib/ollama/llama-server --model /root/.ollama/models/blobs/${BLOB} --port 39001 --host 127.0.0.1 --no-webui --offline -c 32768 -np 4`
  const procs = [
    { pid: 1, ppid: 0, comm: 'ollama', command: '/bin/ollama serve', from: 0, to: seconds, kb: rise(0, 1, 70 * MIB, 70 * MIB) },
    { pid: 31, ppid: 1, comm: 'llama-server', command: runner, from: 30, to: seconds, kb: rise(30, 200, 100 * MIB, 11.5 * GIB) },
  ]
  let tsv = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  for (let t = 0; t < seconds; t++) for (const p of procs) if (t >= p.from && t < p.to) tsv += f.procRow(T0 + t * 1000, p.pid, p.ppid, p.comm, p.kb(t), 6 * 1024 * 1024, p.command)
  writeFileSync(join(d, 'ollama-process-memtrace-20261120-100000.tsv'), tsv)
  let log = ''
  for (let t = 0; t < seconds; t += 5) {
    const ms = T0 + t * 1000
    const rss = procs.reduce((a, p) => a + (t >= p.from && t < p.to ? p.kb(t) * 1024 : 0), 0)
    const usage = Math.round(Math.min(limit, rss + 1.2 * GIB + (t / seconds) * 2.5 * GIB))
    log += `===== ${f.iso(ms)} =====\n`
    if (t === 0) log += 'memtrace start {"version":"0.1.0","interval_ms":1000,"system_interval_ms":5000}\n'
    if (t === 30) log += `memtrace runner {"pid":31,"model":"llama3.2:3b","blob":"${BLOB}"}\n`
    log += f.meminfo({ total: 64 * GIB, free: 30 * GIB, available: 44 * GIB, cached: 12 * GIB, swapTotal: 0, swapFree: 0, anon: 16 * GIB })
    log += 'cgroup: /\n'
    log += `/sys/fs/cgroup/memory.current:${usage}\n/sys/fs/cgroup/memory.max:${limit}\n/sys/fs/cgroup/memory.peak:${usage}\n`
    log += f.apiPs(t >= 30 ? [llama(ms, 0)] : [], false)
    log += '\n'
  }
  writeFileSync(join(d, 'system-memtrace-20261120-100000.log'), log)
}

twoServersOrphan()
inContainer()
