/**
 * Who a finding says gave a process's GPU memory: the source of the very
 * figure it quotes, where the counters and nvidia-smi took turns.
 */
import t from 'tap'
import { TraceBuilder } from '../../core/model/trace.js'
import { parseSys } from '../../core/test/helpers.js'
import { gpuSourceOf } from '../findings/gpu-use.js'

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
