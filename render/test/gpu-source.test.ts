/**
 * Who a finding says gave a process's GPU memory: the source of the very
 * figure it quotes, where the counters and nvidia-smi took turns.
 */
import t from 'tap'
import { TraceBuilder } from '../../core/model/trace.js'
import { parseSys } from '../../core/test/helpers.js'
import { gpuSourceOf } from '../findings/gpu-use.js'
import { findFindings } from '../findings/findings.js'
import { traceOf } from './trace-of.js'

t.test("a runner counted by Windows' GPU counters in one block and by nvidia-smi in the next: each time named by its own source", async t => {
  const query = 'index, uuid, name, memory.used [MiB], memory.total [MiB]\n0, GPU-5f3a1c2e-0000-0000-0000-000000000000, NVIDIA GeForce RTX 4090, 7000 MiB, 24564 MiB\n'
  const smi = query + 'gpu_uuid, pid, used_gpu_memory [MiB]\nGPU-5f3a1c2e-0000-0000-0000-000000000000, 14520, 5216 MiB\n'
  const counters = [
    'Timestamp                 CounterSamples',
    '---------                 --------------',
    '11/30/2026 7:19:00 PM     \\\\pc\\gpu process memory(pid_14520_luid_0x00000000_0x000095ca_phys_0)\\dedicated usage :',
    '                          5469339648',
    '',
  ].join('\n')
  const b = new TraceBuilder()
  for (const blk of parseSys(`===== 2026-11-30T19:19:00Z =====\n${smi}\n${counters}\n===== 2026-11-30T19:19:05Z =====\n${smi}\n`).blocks) b.addSystem(blk)
  const trace = b.finish()
  t.same(trace.gpuByPid.get(14520)?.tsMs.length, 2, 'a figure in each block')
  t.equal(gpuSourceOf(trace, 14520, Date.parse('2026-11-30T19:19:00Z')), "Windows' GPU counters")
  t.equal(gpuSourceOf(trace, 14520, Date.parse('2026-11-30T19:19:05Z')), 'nvidia-smi')
})

t.test("a runner on an integrated GPU (its model in Shared Usage, Dedicated near 0): the finding quoting 0.0 GiB says the shared memory beside it", async t => {
  const ts = (s: number) => new Date(Date.UTC(2026, 10, 30, 19, 19, s)).toISOString().replace('.000', '')
  const proc =
    'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n' +
    [0, 5, 10, 15, 20, 25].map(s => `${ts(s)}\t11872\t1\tollama.exe\t80000\t90000\tollama.exe serve\n${ts(s)}\t14520\t11872\tollama.exe\t1048576\t2097152\tollama.exe runner --ollama-engine --model m:3b --port 50123\n`).join('')
  const counter = (pid: number, counter: string, value: number, first: boolean) =>
    `${first ? '11/30/2026 7:19:00 PM     ' : '                          '}\\\\pc\\gpu process memory(pid_${pid}_luid_0x00000000_0x0000a18d_phys_0)\\${counter} usage :\n                          ${value}\n\n`
  const api = JSON.stringify({ models: [{ name: 'm:3b', model: 'm:3b', size: 3 * 2 ** 30, size_vram: 3 * 2 ** 30, digest: 'd', details: {}, expires_at: '2026-11-30T19:30:00Z', context_length: 4096 }] })
  const sys = [0, 5, 10, 15, 20, 25]
    .map(s => `===== ${ts(s)} =====\nTimestamp                 CounterSamples\n---------                 --------------\n${counter(14520, 'dedicated', 4096, true)}${counter(14520, 'shared', s < 10 ? 2 ** 20 : 2_952_790_016 + s, false)}${api}\n`)
    .join('')
  const f = findFindings(traceOf(proc, sys), { zone: 'UTC', lowFreePct: 30 })
  const claim = f.find(x => x.kind === 'claim-vs-measured')
  // Its most Shared Usage: the last sample's.
  const most = ((2_952_790_016 + 25) / 2 ** 30).toFixed(1)
  t.ok(claim?.text.includes(`Windows' GPU counters gave pid 14520 at most 0.0 GiB of GPU memory (19:19:00), and at most ${most} GiB of shared memory the GPU maps from system RAM (19:19:25), against the 3.0 GiB Ollama put there.`), claim?.text ?? f.map(x => x.text).join(' | '))
})
