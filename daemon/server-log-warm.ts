/**
 * The byte test and the server-log parser, run at the follower's start over
 * lines in the shapes a live log's memory lines take. The first memory line
 * read would otherwise pay for compiling the parser (about 6 ms at once),
 * and the next few loads for the engine's work to make it quick, each in a
 * process tick; here it is paid once, at the start (about 15 ms). Nothing
 * of it is kept or counted.
 */
import { ProblemLog } from '../core/parse/problems.js'
import { ServerLogParser } from '../core/parse/server-log.js'
import { anchoredLines } from './server-log-scan.js'
import { withoutCommandLine } from './server-log-start.js'
import { MAY_TELL } from './server-log-words.js'

/** Shapes only: the figures, models and times are made up (Ollama 0.11 to 0.32, llama.cpp, a journal's prefix). */
const LINES = [
  'time=2026-01-01T00:00:00.000Z level=INFO source=sched.go:613 msg="system memory" total="31.0 GiB" free="29.4 GiB" free_swap="0 B"',
  'time=2026-01-01T00:00:00.000Z level=INFO source=sched.go:630 msg="gpu memory" id=0 library=CUDA available="22.9 GiB" free="23.3 GiB" minimum="457.0 MiB" overhead="0 B"',
  'time=2026-01-01T00:00:00.000Z level=INFO source=sched.go:560 msg="llama-server model fits alongside existing models" predicted="6.3 GiB" predicted_num_ctx=4096 num_batch=512 available="20.0 GiB" gpu_free="14.8 GiB" system_free="20.0 GiB" system_limited=false',
  'time=2026-01-01T00:00:00.000Z level=INFO source=sched.go:557 msg="llama-server model predicted to exceed available memory, evicting" predicted="6.3 GiB" predicted_num_ctx=4096 num_batch=512 available="7.2 GiB" gpu_free="14.8 GiB" system_free="7.2 GiB" system_limited=true',
  'time=2026-01-01T00:00:00.000Z level=INFO source=llama_server.go:425 msg="starting llama-server" cmd="/usr/lib/ollama/llama-server --model /m/blobs/sha256-0000000000000000000000000000000000000000000000000000000000000000 --port 36103 -c 4096 -b 512 -np 1"',
  'time=2026-01-01T00:00:00.000Z level=INFO source=server.go:640 msg="llama-server started in 3.79 seconds"',
  'time=2026-01-01T00:00:00.000Z level=INFO source=runner.go:1222 msg=load request="{Operation:fit LoraPath:[] Parallel:1 BatchSize:512 FlashAttention:true KvSize:4096 KvCacheType: NumThreads:4 GPULayers:37[ID:0 Layers:37(0..36)] MultiUserCache:false ProjectorPath: MainGPU:0 UseMmap:false}"',
  'Jan 01 00:00:00 host ollama[95]: time=2026-01-01T00:00:00.000+02:00 level=INFO source=device.go:240 msg="model weights" device=CUDA0 size="5.1 GiB"',
  'time=2026-01-01T00:00:00.000Z level=INFO source=device.go:251 msg="kv cache" device=CUDA0 size="2.5 GiB"',
  'time=2026-01-01T00:00:00.000Z level=INFO source=backend.go:342 msg="total memory" size="5.4 GiB"',
  'time=2026-01-01T00:00:00.000Z level=INFO source=memory.go:356 msg="offload to cuda" layers.requested=-1 layers.model=33 layers.offload=33 layers.split="" memory.available="[23.3 GiB]" memory.required.full="6.3 GiB" memory.required.partial="6.3 GiB" memory.required.kv="1.0 GiB"',
  'llama_model_load_from_file_impl: using device CUDA0 (NVIDIA GeForce RTX 4090) (0000:01:00.0) - 23008 MiB free',
  'load_tensors: offloaded 29/29 layers to GPU',
  'load_tensors:        CUDA0 model buffer size =  4168.09 MiB',
  'llama_kv_cache:      CUDA0 KV buffer size =  1920.00 MiB',
  'llama_context:  CUDA_Host compute buffer size =   268.05 MiB',
]

/** Passes over LINES: enough for the engine to compile the parser's common paths, and the byte test's, to fast code. */
const PASSES = 10

export function warmParser(): void {
  const parser = new ServerLogParser('warm-up', new ProblemLog())
  const bytes = Buffer.from(`${LINES.join('\n')}\n`)
  const found: number[] = []
  let no = 0
  for (let pass = 0; pass < PASSES; pass++) {
    anchoredLines(bytes, 0, bytes.length, found)
    for (let i = 0; i < found.length; i += 2) {
      const line = bytes.toString('utf8', found[i], found[i + 1])
      if (!MAY_TELL.test(line)) continue
      // A runner's start is kept without its command line.
      for (const e of [...parser.line(line, ++no), ...parser.end()]) if (e.kind === 'runner-starting') withoutCommandLine(line, e)
    }
  }
}
