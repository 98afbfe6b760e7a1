/**
 * What `render --prometheus` needs to draw a host as its trace does: each
 * process apart by PID (two runners of one model, several servers), each
 * server's address and listing, and the markers of `memtrace mark`.
 */
import t from 'tap'
import { Metrics } from '../metrics.js'
import { block } from '../../core/test/helpers.js'

const GIB = 2 ** 30
const lines = (text: string, name: string) => text.split('\n').filter(l => l.startsWith(`${name}{`)).sort()
const listing = (name: string, size: number) => JSON.stringify({ models: [{ name, model: name, size, size_vram: size, digest: 'ab'.repeat(32), context_length: 4096, expires_at: '2026-02-25T14:08:12Z' }] })

t.test('two runners of one model under two servers: each process apart, each server with its address and listing', async t => {
  const m = new Metrics()
  m.processes(
    [
      { pid: 10, ppid: 1, role: 'server', rssBytes: 0.1 * GIB },
      { pid: 20, ppid: 1, role: 'server', rssBytes: 0.2 * GIB },
      { pid: 11, ppid: 10, role: 'runner', model: 'qwen3:8b', rssBytes: 5 * GIB },
      { pid: 21, ppid: 20, role: 'runner', model: 'qwen3:8b', rssBytes: 1 * GIB },
      { pid: 30, ppid: 1, role: 'other', rssBytes: 0.5 * GIB },
    ],
    1000,
  )
  m.servers([{ pid: 10, address: '127.0.0.1:11434' }, { pid: 20, address: '127.0.0.1:11435' }])
  const text = `MemTotal: 16777216 kB\nMemAvailable: 4194304 kB\nmemtrace server {"pid":10,"address":"127.0.0.1:11434","via":"environ"}\n${listing('qwen3:8b', 5 * GIB)}\nmemtrace server {"pid":20,"address":"127.0.0.1:11435","via":"environ"}\n${listing('qwen3:8b', 4 * GIB)}\n`
  m.system(block(text).sample, true)
  const out = await m.registry.metrics()
  t.same(lines(out, 'memtrace_process_pid_resident_bytes'), [
    `memtrace_process_pid_resident_bytes{pid="10",ppid="1",role="server"} ${0.1 * GIB}`,
    `memtrace_process_pid_resident_bytes{pid="11",ppid="10",role="runner",model="qwen3:8b"} ${5 * GIB}`,
    `memtrace_process_pid_resident_bytes{pid="20",ppid="1",role="server"} ${0.2 * GIB}`,
    `memtrace_process_pid_resident_bytes{pid="21",ppid="20",role="runner",model="qwen3:8b"} ${1 * GIB}`,
    `memtrace_process_pid_resident_bytes{pid="30",ppid="1",role="other"} ${0.5 * GIB}`,
  ])
  t.same(lines(out, 'memtrace_server_info'), ['memtrace_server_info{pid="10",address="127.0.0.1:11434"} 1', 'memtrace_server_info{pid="20",address="127.0.0.1:11435"} 1'])
  t.same(lines(out, 'memtrace_ollama_model_loaded_bytes'), [`memtrace_ollama_model_loaded_bytes{model="qwen3:8b",server="127.0.0.1:11434"} ${5 * GIB}`, `memtrace_ollama_model_loaded_bytes{model="qwen3:8b",server="127.0.0.1:11435"} ${4 * GIB}`], 'one model on two servers: two listings, not one overwritten')
  // One server again: no server label, no server info.
  m.servers([])
  m.system(block(`MemTotal: 16777216 kB\nMemAvailable: 4194304 kB\n${listing('qwen3:8b', 5 * GIB)}\n`).sample, true)
  const one = await m.registry.metrics()
  t.same(lines(one, 'memtrace_ollama_model_loaded_bytes'), [`memtrace_ollama_model_loaded_bytes{model="qwen3:8b"} ${5 * GIB}`])
  t.same(lines(one, 'memtrace_server_info'), [])
})

t.test('a marker is exported from the next system sample, by its text and time, for 10 minutes', async t => {
  const m = new Metrics()
  const sys = block('MemTotal: 16777216 kB\nMemAvailable: 4194304 kB\n').sample
  const now = Date.now()
  m.marker(now - 60_000, 'switched to "qwen3:8b"')
  m.marker(now - 11 * 60_000, 'too old')
  m.marker(Number.NaN, 'no time')
  m.system(sys, true)
  const out = await m.registry.metrics()
  t.same(lines(out, 'memtrace_marker_timestamp_seconds'), [`memtrace_marker_timestamp_seconds{text="switched to \\"qwen3:8b\\""} ${(now - 60_000) / 1000}`])
  m.marker(now, 'switched to "qwen3:8b"')
  m.system(sys, true)
  t.same(lines(await m.registry.metrics(), 'memtrace_marker_timestamp_seconds'), [`memtrace_marker_timestamp_seconds{text="switched to \\"qwen3:8b\\""} ${now / 1000}`], 'the same text again: its newest time')
})
