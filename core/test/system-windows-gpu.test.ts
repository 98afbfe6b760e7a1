/**
 * Windows' GPU Process Memory counters in a block: each process's GPU memory
 * per adapter, exact, beside the memory counters of the same block; a
 * process's adapters add up in the trace. Layouts from Get-Counter's and
 * typeperf's own (fixtures/system/windows/README.md).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TraceBuilder } from '../model/trace.js'
import { ProblemLog } from '../parse/problems.js'
import { SystemLogParser, type SystemBlock } from '../parse/system-log.js'
import { block, FIXTURES, parseSys } from './helpers.js'

const WIN = join(FIXTURES, 'system', 'windows')
const text = (name: string) => readFileSync(join(WIN, name), 'utf8').replace(/\n$/, '')

t.test("the daemon's block: typeperf's memory counters, then Get-Counter's GPU counters; both kept, neither replaces the other", async t => {
  // As the daemon writes typeperf's output: its header and newest row.
  const csv = text('typeperf.txt').split('\n').filter(l => l.startsWith('"'))
  const { sample, problems } = block(`${csv[0]}\n${csv[csv.length - 1]}\n\n${text('get-counter-gpu.txt')}`)
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.equal(sample.platform, 'windows')
  t.equal(sample.availableBytes, 10195881984, "typeperf's last row still the block's memory")
  t.equal(sample.commitBytes, 36394106880)
  const runner = (sample.gpuProcesses ?? []).filter(p => p.pid === 14520)
  t.same(runner.map(p => [p.adapter, p.usedBytes, p.sharedBytes]), [
    ['luid_0x00000000_0x000095ca_phys_0', 5469339648, 104857600],
    ['luid_0x00000000_0x0000a18d_phys_0', 0, 1048576],
  ])
})

t.test("a process on two adapters: its GPU memory in the trace is the sum of its instances', to the byte", async t => {
  const body = text('get-counter-gpu.txt')
  const later = body.replace('5469339648', '5469343744').replace('184549376', '0')
  const b = new TraceBuilder()
  for (const blk of parseSys(`===== 2026-11-30T19:19:00Z =====\n${body}\n===== 2026-11-30T19:19:05Z =====\n${later}\n`).blocks) b.addSystem(blk)
  const trace = b.finish()
  const one = trace.gpuByPid.get(1424)
  t.same(one?.bytes, [184549376 + 8388608, 8388608], 'NVIDIA and Intel instances added; an instance at 0 B counts as 0')
  t.same(one?.from, ['gpu-counters', 'gpu-counters'], 'named as the counters, not nvidia-smi')
  t.same(trace.gpuByPid.get(14520)?.bytes, [5469339648, 5469343744])
  t.notOk(trace.gpuByPid.has(11872), 'a process with no instance has no GPU memory: no series, not a zero')
})

t.test('the GPU counters beside nvidia-smi: both listings kept, each row its own source', async t => {
  const smi = ['gpu_uuid, pid, used_gpu_memory [MiB]', 'GPU-5f3a1c2e-0000-0000-0000-000000000000, 22000, 1024 MiB'].join('\n')
  const query = ['index, uuid, name, memory.used [MiB], memory.total [MiB]', '0, GPU-5f3a1c2e-0000-0000-0000-000000000000, NVIDIA RTX A6000, 2048 MiB, 49140 MiB'].join('\n')
  const { sample, problems } = block(`${query}\n${smi}\n\n${text('get-counter-gpu.txt')}`)
  t.equal(problems.total, 0, problems.summary().join('; '))
  const rows = sample.gpuProcesses ?? []
  t.same(rows.filter(r => r.source === undefined).map(r => [r.pid, r.usedBytes]), [[22000, 1024 * 2 ** 20]], "nvidia-smi's row")
  t.equal(rows.filter(r => r.source === 'gpu-counters').length, 6, "the counters' rows")
})

t.test("a PID both nvidia-smi and the counters list in a block: the counters' figure alone, never the two added; each sample named by its own source", async t => {
  // nvidia-smi under WDDM may list the runner with its figure on the NVIDIA card, which the counters' NVIDIA instance already holds.
  const smi = ['gpu_uuid, pid, used_gpu_memory [MiB]', 'GPU-5f3a1c2e-0000-0000-0000-000000000000, 14520, 5216 MiB', 'GPU-5f3a1c2e-0000-0000-0000-000000000000, 22000, 1024 MiB'].join('\n')
  const query = ['index, uuid, name, memory.used [MiB], memory.total [MiB]', '0, GPU-5f3a1c2e-0000-0000-0000-000000000000, NVIDIA GeForce RTX 4090, 7000 MiB, 24564 MiB'].join('\n')
  const b = new TraceBuilder()
  const log = `===== 2026-11-30T19:19:00Z =====\n${query}\n${smi}\n\n${text('get-counter-gpu.txt')}\n===== 2026-11-30T19:19:05Z =====\n${query}\n${smi}\n`
  for (const blk of parseSys(log).blocks) b.addSystem(blk)
  const trace = b.finish()
  const runner = trace.gpuByPid.get(14520)
  t.same(runner?.bytes, [5469339648 + 0, 5216 * 2 ** 20], "the counters' instances (NVIDIA and Intel) in the first block; nvidia-smi's row where the counters gave none")
  t.same(runner?.from, ['gpu-counters', 'nvidia-smi'], 'each figure named by who gave it')
  t.same(trace.gpuByPid.get(22000)?.bytes, [1024 * 2 ** 20, 1024 * 2 ** 20], 'a PID only nvidia-smi lists keeps its rows')
})

t.test('an adapter keeps its name from block to block, whichever other adapters a block lists: its LUID, never a number made per block', async t => {
  const body = text('get-counter-gpu.txt')
  // The NVIDIA adapter's instances gone (its processes ended): the Intel adapter is then the only one listed.
  const intelOnly = [
    'Timestamp                 CounterSamples',
    '---------                 --------------',
    '11/30/2026 7:19:05 PM     \\\\desktop-7q2l9kd\\gpu process memory(pid_1424_luid_0x00000000_0x0000a18d_phys_0)\\dedicated usage :',
    '                          8388608',
  ].join('\n')
  const { blocks, problems } = parseSys(`===== 2026-11-30T19:19:00Z =====\n${body}\n===== 2026-11-30T19:19:05Z =====\n${intelOnly}\n`)
  t.equal(problems.total, 0, problems.summary().join('; '))
  const intel = blocks.map(b => (b.sample.gpuProcesses ?? []).filter(r => r.pid === 1424 && r.adapter?.includes('0x0000a18d')).map(r => ({ gpu: r.gpu, adapter: r.adapter })))
  t.equal(intel[1]?.length, 1, 'the Intel instance read in the second block')
  t.same(intel[1], intel[0], 'the same adapter, the same identity in both blocks')
  t.equal(intel[0]?.[0]?.gpu, undefined, "no nvidia-smi index: the counters do not give one")
})

t.test('a figure that is not whole bytes is reported once and skipped; the other counters of the set are read past', async t => {
  const lines = [
    'Timestamp                 CounterSamples',
    '---------                 --------------',
    '11/30/2026 7:19:00 PM     \\\\pc\\gpu process memory(pid_14520_luid_0x00000000_0x000095ca_phys_0)\\dedicated usage :',
    '                          5469339648.5',
    '',
    '                          \\\\pc\\gpu process memory(pid_15304_luid_0x00000000_0x000095ca_phys_0)\\local usage :',
    '                          2147483648',
    '',
    '                          \\\\pc\\gpu process memory(pid_15304_luid_0x00000000_0x000095ca_phys_0)\\dedicated usage :',
    '                          2147483648',
  ]
  const { sample, problems } = block(lines.join('\n'))
  t.equal(problems.count('bad-value'), 1, problems.summary().join('; '))
  t.same((sample.gpuProcesses ?? []).map(p => [p.pid, p.usedBytes]), [[15304, 2147483648]], 'the runner with a whole figure; Local Usage is not its GPU memory twice')
})

t.test("Get-Counter's view with bad values: each skipped with its problem, and the counters after it still read", async t => {
  const gpu = (pid: number, counter: string, value: string, first = false) => [`${first ? '11/30/2026 7:19:00 PM     ' : '                          '}\\\\pc\\gpu process memory(pid_${pid}_luid_0x00000000_0x000095ca_phys_0)\\${counter} usage :`, `                          ${value}`, '']
  const lines = [
    'Timestamp                 CounterSamples',
    '---------                 --------------',
    ...gpu(14520, 'dedicated', '-5', true),
    ...gpu(15304, 'dedicated', '100abc'),
    ...gpu(17384, 'dedicated', '5,000'),
    ...gpu(18000, 'dedicated', '5.000.000'),
    ...gpu(18004, 'dedicated', '5,000.5'),
    ...gpu(18008, 'dedicated', '5469339648.000000'),
    ...gpu(4294967290, 'dedicated', '1048576'),
    ...gpu(19000, 'dedicated', '2048'),
    ...gpu(19000, 'dedicated', '4096'),
    ...gpu(20000, 'dedicated', '8192'),
    '                          \\\\pc\\memory\\available bytes :',
    '                          10,195,881,984',
  ]
  const problems = new ProblemLog()
  const messages: string[] = []
  problems.onProblem(p => messages.push(p.message))
  const parser = new SystemLogParser('s.log', problems)
  for (const [i, l] of ['===== 2026-11-30T19:19:00Z =====', ...lines].entries()) parser.line(l, i + 1)
  const sample = (parser.end() as SystemBlock).sample
  const said = messages.join(' | ')
  t.same((sample.gpuProcesses ?? []).map(p => [p.pid, p.usedBytes]), [
    [17384, 5000],
    [18000, 5_000_000],
    [18008, 5469339648],
    [19000, 4096],
    [20000, 8192],
  ], 'the figures after each bad one read; 5,000 is five thousand (grouped), never 5; the duplicate instance its last value')
  t.equal(sample.availableBytes, 10_195_881_984, 'a memory counter after them read too, its grouped bytes whole')
  t.match(said, /"-5"/, said)
  t.match(said, /"100abc"/)
  t.match(said, /"5,000\.5"/)
  t.match(said, /4294967290[^;]*(PID|pid)/, 'a PID above any machine refused, as in process rows')
  t.equal(problems.count('duplicate'), 1, 'the instance printed twice in one sample')
  t.equal(problems.count('unrecognised-line'), 0, 'no value line taken for an unknown line')
})
