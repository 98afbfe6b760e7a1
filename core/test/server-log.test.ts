// The server log: each memory line read exactly, or reported; everything else read past and never kept.
import t from 'tap'
import { ProblemLog } from '../parse/problems.js'
import { ServerLogParser } from '../parse/server-log.js'
import { sizeBytes, sizeList } from '../parse/server-log/sizes.js'
import type { ServerEvent } from '../../schemas/index.js'

function parse(text: string) {
  const problems = new ProblemLog()
  const seen: { line: number; message: string }[] = []
  problems.onProblem(p => seen.push({ line: p.line, message: p.message }))
  const parser = new ServerLogParser('server.log', problems)
  const events: ServerEvent[] = []
  text.split('\n').forEach((l, i) => events.push(...parser.line(l, i + 1)))
  events.push(...parser.end())
  return { events, problems: seen }
}

const GiB = 2 ** 30
const MiB = 2 ** 20

t.test('sizes are read from their digits, exactly as printed', async t => {
  t.equal(sizeBytes('10.1 GiB'), (101 * GiB) / 10)
  t.equal(sizeBytes('1918.35 MiB'), (191835 * MiB) / 100)
  t.equal(sizeBytes('0 B'), 0)
  t.equal(sizeBytes('457.0 MiB'), 457 * MiB)
  t.equal(sizeBytes('5 GB'), 5e9, "the 0.1.x decimal spelling is powers of ten")
  t.equal(sizeBytes('3.7GiB'), (37 * GiB) / 10)
  t.same(sizeList('[10.3 GiB 10.3 GiB]'), [(103 * GiB) / 10, (103 * GiB) / 10])
  for (const bad of ['N/A', '10.1', 'GiB', '-1 GiB', '1e3 MiB', '12345678901234567 B', '10.1 GIB', '[10.3 GiB 10.3]', '[]']) {
    t.equal(bad.startsWith('[') ? sizeList(bad) : sizeBytes(bad), undefined, `${bad} is not read`)
  }
})

t.test('every generation\'s memory lines, with their times', async t => {
  const { events, problems } = parse(
    [
      'time=2025-05-14T09:12:03.123+02:00 level=INFO source=server.go:135 msg="system memory" total="31.3 GiB" free="27.9 GiB" free_swap="0 B"',
      'time=2025-05-14T09:12:03.200+02:00 level=INFO source=types.go:130 msg="inference compute" id=GPU-1c2d library=cuda variant=v12 compute=8.9 driver=12.4 name="NVIDIA GeForce RTX 4090" total="23.6 GiB" available="22.1 GiB"',
      'time=2025-05-14T09:12:04.000+02:00 level=INFO source=memory.go:326 msg=offload library=cuda layers.requested=-1 layers.model=29 layers.offload=29 layers.split="" memory.available="[22.1 GiB]" memory.gpu_overhead="0 B" memory.required.full="5.1 GiB" memory.required.partial="5.1 GiB" memory.required.kv="1.8 GiB" memory.required.allocations="[5.1 GiB]" memory.weights.total="4.1 GiB" memory.weights.repeating="3.7 GiB" memory.weights.nonrepeating="426.4 MiB" memory.graph.full="560.0 MiB" memory.graph.partial="585.0 MiB"',
      'time=2025-05-14T09:12:05.000Z level=INFO source=server.go:637 msg=load request="{Operation:commit LoraPath:[] Parallel:2 BatchSize:512 FlashAttention:Enabled KvSize:16384 KvCacheType: NumThreads:4 GPULayers:49[ID:GPU-1c2d Layers:49(0..48)] MultiUserCache:false ProjectorPath: MainGPU:0 UseMmap:false}"',
      'time=2025-05-14T09:12:05.000Z level=INFO source=ggml.go:487 msg="model weights" device=CUDA0 size="10.1 GiB"',
      'time=2025-05-14T09:12:05.000Z level=INFO source=ggml.go:487 msg="kv cache" device=CPU size="1.5 GiB"',
      'time=2025-05-14T09:12:05.000Z level=INFO source=backend.go:1 msg="compute graph" backend=CUDA0 buffer_type=CUDA0 size="96.0 MiB"',
      'time=2025-05-14T09:12:05.000Z level=INFO source=ggml.go:500 msg="total memory" size="11.7 GiB"',
      'time=2025-05-14T09:12:06Z level=INFO source=sched.go:1 msg="llama-server model fits alongside existing models" predicted="6.3 GiB" predicted_num_ctx=4096 num_batch=512 available="7.2 GiB" gpu_free="14.8 GiB" system_free="7.2 GiB" system_limited=false',
      'time=2025-05-14T09:12:07Z level=WARN source=sched.go:2 msg="llama-server load failed; reducing automatic context and retrying once" old_num_ctx=32768 effective_num_ctx=32768 new_num_ctx=8192 old_num_batch=512 new_num_batch=512 loaded_count=1 evict_all=false error="out of memory"',
      'time=2025-05-14T09:12:08Z level=INFO source=sched.go:3 msg="evicting all other loaded models for OOM retry" count=2',
      'time=2025-05-14T09:12:09Z level=INFO source=server.go:9 msg="llama runner started in 9.49 seconds"',
      'time=2025-05-14T09:12:10Z level=ERROR source=sched.go:4 msg="Load failed" model=/models/blobs/sha256-aa error="model requires more system memory (7.3 GiB) than is available (6.0 GiB)"',
      'time=2025-05-14T09:12:11Z level=INFO source=runner.go:1 msg="peak memory" size="5.2 GiB"',
      'time=2025-05-14T09:12:12Z level=WARN source=runner.go:2 msg="MLX model exceeds the recommended working set; performance may be degraded" active="30.1 GiB" recommended="26.8 GiB"',
      'llama_model_load_from_file_impl: using device CUDA0 (NVIDIA GeForce RTX 4090) - 23008 MiB free',
      'load_tensors: offloaded 29/29 layers to GPU',
      'llm_load_tensors:        CPU buffer size =  4437.80 MiB',
      'srv    load_model: [mtmd] estimated worst-case memory usage of mmproj is 1152.07 MiB',
    ].join('\n'),
  )
  t.same(problems, [])
  const by = (kind: string) => events.filter(e => e.kind === kind)
  t.match(by('system-memory')[0], { line: 1, ts: '2025-05-14T07:12:03.123Z', figures: { totalBytes: (313 * GiB) / 10, freeBytes: (279 * GiB) / 10, freeSwapBytes: 0 } })
  t.match(by('inference-compute')[0], { device: 'GPU-1c2d', figures: { totalBytes: (236 * GiB) / 10, availableBytes: (221 * GiB) / 10 } })
  t.match(by('estimate')[0], { library: 'cuda', figures: { availablePerGpuBytes: [(221 * GiB) / 10], requiredFullBytes: (51 * GiB) / 10, requiredKvBytes: (18 * GiB) / 10, graphPartialBytes: 585 * MiB, layersOffloaded: 29, layersTotal: 29 } })
  t.match(by('load-request')[0], { operation: 'commit', figures: { numCtx: 16384, parallel: 2, numBatch: 512 } })
  t.same(
    by('allocation').map(e => [e.component, e.device, e.onDevice, e.figures?.sizeBytes]),
    [
      ['weights', 'CUDA0', true, (101 * GiB) / 10],
      ['kv', 'CPU', false, (15 * GiB) / 10],
      ['graph', 'CUDA0', true, 96 * MiB],
      ['total', undefined, undefined, (117 * GiB) / 10],
      ['weights', 'CPU', false, (443780 * MiB) / 100],
    ],
  )
  t.match(by('estimate')[1], { component: 'projector', figures: { sizeBytes: (115207 * MiB) / 100 } }, "mmproj's is an estimate")
  t.match(by('fits')[0], { systemLimited: false, figures: { predictedBytes: (63 * GiB) / 10, predictedNumCtx: 4096, gpuFreeBytes: (148 * GiB) / 10 } })
  t.match(by('retry')[0], { evictAll: false, figures: { oldNumCtx: 32768, newNumCtx: 8192 } })
  t.match(by('eviction')[0], { figures: { count: 2 } }, 'an OOM retry evicts every other model')
  t.match(by('runner-started')[0], { figures: { seconds: 9.49 } })
  t.match(by('load-failed')[0], { model: '/models/blobs/sha256-aa', figures: { requiredBytes: (73 * GiB) / 10, availableBytes: 6 * GiB } })
  t.match(by('peak-memory')[0], { figures: { sizeBytes: (52 * GiB) / 10 } })
  t.match(by('working-set')[0], { figures: { activeBytes: (301 * GiB) / 10, recommendedBytes: (268 * GiB) / 10 } })
  t.match(by('device-free')[0], { device: 'CUDA0', figures: { freeBytes: 23008 * MiB } })
  t.match(by('offloaded')[0], { figures: { layersOffloaded: 29, layersTotal: 29 } })
})

t.test('a paste: journal prefixes, a terminal\'s wraps, indentation and notes between lines', async t => {
  const line = 'time=2025-05-14T09:12:04Z level=INFO source=sched.go:1 msg="llama-server model predicted to exceed available memory, evicting" predicted="6.3 GiB" predicted_num_ctx=4096 num_batch=512 available="7.2 GiB" gpu_free="14.8 GiB" system_free="7.2 GiB" system_limited=true'
  const plain = parse(line).events
  t.equal(plain.length, 1)
  t.match(plain[0], { kind: 'eviction', systemLimited: true, ts: '2025-05-14T09:12:04Z' })
  // Wrapped at 80 and at 57 columns, as a terminal or a chat cuts it, anywhere (in a number, at a space).
  for (const width of [80, 57]) {
    const wrapped = line.match(new RegExp(`.{1,${width}}`, 'g'))!.join('\n')
    const { events, problems } = parse(`内存不足，日志如下：\n${wrapped}\nthat was all`)
    t.same(problems, [], `wrapped at ${width}`)
    t.same(events.map(e => ({ ...e, line: 0, lastLine: 0 })), plain.map(e => ({ ...e, line: 0, lastLine: 0 })), `wrapped at ${width}: the same event`)
    t.equal(events[0]?.line, 2, 'numbered by its first line')
    t.equal(events[0]?.lastLine, 1 + wrapped.split('\n').length, 'and its last')
  }
  // Indented in a Markdown code block, or quoted.
  for (const lead of ['    ', '> ', '\t']) t.same(parse(`${lead}${line}`).events.map(e => e.figures), plain.map(e => e.figures), JSON.stringify(lead))
  // The journal's prefix has no year: the time= value gives the instant; without it, the clock alone is kept.
  const journal = parse(`May 14 09:12:04 gpu-box ollama[812]: ${line}\nMay 14 09:12:05 gpu-box ollama[812]: llama_kv_cache:      CUDA0 KV buffer size =  1920.00 MiB`).events
  t.match(journal[0], { ts: '2025-05-14T09:12:04Z' })
  t.match(journal[1], { clock: 'May 14 09:12:05', figures: { sizeBytes: 1920 * MiB } })
  t.notOk('ts' in journal[1]!, 'no instant is made up for a time without a year')
  // `-o short-iso` and docker --timestamps carry whole instants.
  t.match(parse('2025-05-14T09:12:05+0200 gpu-box ollama[812]: load_tensors: offloaded 10/29 layers to GPU').events[0], { ts: '2025-05-14T07:12:05Z' })
  t.match(parse('2025-05-14T09:12:05.250000000Z llama_context:      CUDA0 compute buffer size =   378.04 MiB').events[0], { ts: '2025-05-14T09:12:05.250Z' })
  // No time anywhere: none is given.
  const bare = parse('llama_context:      CUDA0 compute buffer size =   378.04 MiB').events[0]
  t.notOk(bare && ('ts' in bare || 'clock' in bare))
  // Windows line ends.
  t.match(parse(`${line}\r`).events[0], { figures: { predictedBytes: (63 * GiB) / 10 } })
})

t.test('the kernel\'s OOM kills, from dmesg and journalctl -k', async t => {
  const { events } = parse(
    [
      '[12345.678901] Out of memory: Killed process 4412 (llama-server) total-vm:41234567kB, anon-rss:31981234kB, file-rss:1024kB, shmem-rss:0kB, UID:0 pgtables:62000kB oom_score_adj:0',
      'May 14 09:12:03 gpu-box kernel: Memory cgroup out of memory: Killed process 4413 (ollama) total-vm:2000kB, anon-rss:1000kB, file-rss:0kB, shmem-rss:0kB, UID:999 pgtables:100kB oom_score_adj:0',
    ].join('\n'),
  )
  t.match(events[0], { kind: 'kernel-oom-kill', pid: 4412, process: 'llama-server', cgroup: false, uptimeS: 12345.678901, figures: { anonRssBytes: 31981234 * 1024, totalVmBytes: 41234567 * 1024 } })
  t.match(events[1], { kind: 'kernel-oom-kill', pid: 4413, process: 'ollama', cgroup: true, clock: 'May 14 09:12:03', figures: { anonRssBytes: 1000 * 1024 } })
})

t.test('a memory line that does not read exactly is a problem, never a figure', async t => {
  const { events, problems } = parse(
    [
      'time=2025-05-14T09:12:05Z level=INFO msg="model weights" device=CUDA0 size="N/A"',
      'time=2025-05-14T09:12:05Z level=INFO msg="system memory" total="31.3" free="27.9 GiB"',
      'time=2025-05-14T09:12:05Z level=INFO msg="gpu memory" id=GPU-1 available="99999999999999999 GiB"',
      'llama_kv_cache:      CUDA0 KV buffer size =  19x0.00 MiB',
      'time=2025-05-14T09:12:05Z level=INFO msg="system memory" total="31.3 GiB',
    ].join('\n'),
  )
  t.same(events, [])
  t.same(problems.map(p => p.line), [1, 2, 3, 4, 5])
  t.match(problems[0]?.message, /size="N\/A" is not a size/)
  t.match(problems[4]?.message, /cut before its quoted value closed/)
})

t.test('prompts, request bodies and command lines are never kept', async t => {
  const secret = 'my-secret-prompt-text'
  const { events, problems } = parse(
    [
      `time=2025-05-14T09:12:05Z level=DEBUG source=server.go:1 msg="completion request" prompt="${secret}" images=0`,
      `time=2025-05-14T09:12:05Z level=DEBUG source=routes.go:1 msg="chat request" body="{\\"messages\\":[{\\"content\\":\\"${secret}\\"}]}"`,
      `time=2025-05-14T09:12:06Z level=INFO source=server.go:2 msg="starting llama-server" cmd="/usr/lib/ollama/llama-server --model /home/u/.ollama/models/blobs/sha256-${'a'.repeat(64)} --port 40123 --api-key ${secret}"`,
      `time=2025-05-14T09:12:07Z level=ERROR msg="Load failed" model=m error="${'x'.repeat(5000)}"`,
      `${secret} ${'y'.repeat(20_000)}`,
    ].join('\n'),
  )
  t.same(problems, [])
  t.notMatch(JSON.stringify(events), secret)
  t.notMatch(JSON.stringify(events), '/home/u')
  t.match(events[0], { kind: 'runner-starting', port: 40123, model: `sha256-${'a'.repeat(64)}` })
  t.ok((events[1]?.text?.length ?? 0) <= 300, 'an error is cut to 300 characters')
})

t.test('the server config line: the settings that shape memory, and the version', async t => {
  const { events } = parse(
    [
      'time=2025-05-14T09:12:00Z level=INFO source=routes.go:1 msg="server config" env="map[CUDA_VISIBLE_DEVICES: HTTPS_PROXY: OLLAMA_CONTEXT_LENGTH:8192 OLLAMA_FLASH_ATTENTION:true OLLAMA_KEEP_ALIVE:5m0s OLLAMA_KV_CACHE_TYPE:q8_0 OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_NUM_PARALLEL:4 OLLAMA_ORIGINS:[http://localhost] OLLAMA_SCHED_SPREAD:false]"',
      'time=2025-05-14T09:12:00Z level=INFO source=routes.go:2 msg="Listening on 127.0.0.1:11434 (version 0.12.3)"',
    ].join('\n'),
  )
  t.same(events[0]?.settings, {
    OLLAMA_NUM_PARALLEL: '4',
    OLLAMA_CONTEXT_LENGTH: '8192',
    OLLAMA_KV_CACHE_TYPE: 'q8_0',
    OLLAMA_FLASH_ATTENTION: 'true',
    OLLAMA_MAX_LOADED_MODELS: '0',
    OLLAMA_KEEP_ALIVE: '5m0s',
    OLLAMA_SCHED_SPREAD: 'false',
  })
  t.match(events[1], { kind: 'version', version: '0.12.3' })
})
