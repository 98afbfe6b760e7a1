import type { FromSchema } from './from-schema.js'

const bytes = (description: string) => ({ type: 'number', minimum: 0, description: `${description} Bytes, exactly as printed (10.1 GiB is 10.1 × 2^30).` }) as const
const whole = (description: string) => ({ type: 'integer', minimum: 0, description }) as const

/**
 * A line of the LLM server's own log that says why memory did what it did:
 * Ollama's estimate before a load, its decision (fits, evict, retry, OOM),
 * what each device allocated, runners starting and stopping, and the
 * kernel's OOM kills. Read by `memtrace parse --server-log`.
 */
export const serverEventSchema = {
  $id: 'https://memtrace.dev/schemas/server-event.json',
  title: 'server-event',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'line', 'kind'],
  properties: {
    record: { const: 'server-event' },
    line: { type: 'integer', minimum: 1, description: 'Line number in the log (the first, for a line a terminal or chat wrapped over several).' },
    lastLine: { type: 'integer', minimum: 1, description: 'The last line of a record wrapped over several.' },
    repeated: { type: 'integer', minimum: 2, description: 'rsyslog folded this many identical lines into this one.' },
    kind: {
      enum: [
        'system-memory', 'gpu-memory', 'inference-compute', 'estimate', 'load-request', 'allocation', 'offloaded', 'device-free',
        'eviction', 'fits', 'retry', 'oom', 'load-failed', 'runner-starting', 'runner-started', 'runner-stopped',
        'peak-memory', 'working-set', 'server-config', 'version', 'kernel-oom-kill',
      ],
    },
    ts: { type: 'string', description: 'UTC instant, from the line\'s time= or a full date prefix. Absent when the line gives none: never guessed.' },
    clock: { type: 'string', description: 'A time printed without a year (a journal prefix, `May 14 09:12:03`) or without a zone (Go\'s standard logger, Docker Desktop), as printed; set when ts is not.' },
    uptimeS: { type: 'number', minimum: 0, description: 'A kernel line\'s seconds since boot (`[12345.678901]`).' },
    model: { type: 'string', description: 'The model the line names: a name, or a weights blob (sha256-…).' },
    pid: whole('The process the line names (a killed process, a runner).'),
    port: whole('A runner\'s port, which ties the line to the runner whose argv has it.'),
    process: { type: 'string', description: 'kernel-oom-kill: the killed process\'s name.' },
    device: { type: 'string', description: 'CPU, CUDA0, ROCm0, MTL0, Metal, Vulkan0, a GPU id …, as printed.' },
    library: { type: 'string', description: 'The GPU library the line names (cuda, CUDA, rocm, Metal, Vulkan, …), as printed.' },
    signal: { type: 'string', description: 'runner-stopped / load-failed: the signal that ended the runner (`killed` is the OOM killer\'s).' },
    exitCode: whole('runner-stopped / load-failed: the runner\'s exit status.'),
    onDevice: { type: 'boolean', description: 'allocation: true for GPU (or unified) memory, false for system RAM (CPU, *_Mapped on CPU, *_Host).' },
    component: { enum: ['weights', 'kv', 'compute', 'graph', 'output', 'total', 'projector'], description: 'allocation (or the mmproj estimate): what the memory holds. graph is Ollama\'s compute graph, compute llama.cpp\'s compute buffer.' },
    operation: { enum: ['fit', 'alloc', 'commit', 'close'], description: 'load-request: the step of the load.' },
    systemLimited: { type: 'boolean', description: 'eviction / fits: whether system memory, not the GPU, was the limit.' },
    evictAll: { type: 'boolean', description: 'retry: every other model is evicted first.' },
    cgroup: { type: 'boolean', description: 'kernel-oom-kill: the kill was inside a memory cgroup (a container\'s limit).' },
    version: { type: 'string', description: 'version: the server\'s version.' },
    settings: { type: 'object', additionalProperties: { type: 'string' }, description: 'server-config: the settings that shape memory (OLLAMA_NUM_PARALLEL, …).' },
    text: { type: 'string', description: 'load-failed / runner-stopped / oom / retry: the error, at most 300 characters.' },
    figures: {
      type: 'object',
      additionalProperties: false,
      properties: {
        totalBytes: bytes('Total memory of the host or device.'),
        freeBytes: bytes('Free memory.'),
        freeSwapBytes: bytes('Free swap.'),
        availableBytes: bytes('Available memory (one device).'),
        availablePerGpuBytes: { type: 'array', items: bytes('One GPU\'s available memory.'), description: 'estimate: memory.available, one per GPU.' },
        minimumBytes: bytes('What Ollama keeps free on the GPU.'),
        overheadBytes: bytes('OLLAMA_GPU_OVERHEAD.'),
        requiredFullBytes: bytes('estimate: all layers on the GPU.'),
        requiredPartialBytes: bytes('estimate: the layers that fit.'),
        requiredKvBytes: bytes('estimate: the KV cache.'),
        requiredBytes: bytes('load-failed: what the model needed.'),
        allocationsPerGpuBytes: { type: 'array', items: bytes('One GPU\'s share.'), description: 'estimate: memory.required.allocations.' },
        weightsTotalBytes: bytes('estimate: the weights.'),
        graphFullBytes: bytes('estimate: compute graph, full offload.'),
        graphPartialBytes: bytes('estimate: compute graph, partial offload.'),
        sizeBytes: bytes('allocation / peak-memory: the size.'),
        predictedBytes: bytes('eviction / fits: Ollama\'s prediction for the model.'),
        gpuFreeBytes: bytes('eviction / fits: free GPU memory.'),
        systemFreeBytes: bytes('eviction / fits: free system memory.'),
        vramBytes: bytes('allocation: what the scheduler counts on the GPU for a runner.'),
        limitBytes: bytes('working-set: the wired-memory limit MLX set.'),
        previousBytes: bytes('working-set: the limit before.'),
        activeBytes: bytes('working-set: MLX active memory.'),
        recommendedBytes: bytes('working-set: the recommended working set.'),
        anonRssBytes: bytes('kernel-oom-kill: anonymous RSS.'),
        fileRssBytes: bytes('kernel-oom-kill: file RSS.'),
        shmemRssBytes: bytes('kernel-oom-kill: shared-memory RSS.'),
        totalVmBytes: bytes('kernel-oom-kill: virtual size.'),
        layersOffloaded: whole('Layers on the GPU.'),
        layersTotal: whole('Layers of the model.'),
        numCtx: whole('Context (KV cells) asked for.'),
        predictedNumCtx: whole('The context the prediction assumed.'),
        oldNumCtx: whole('retry: the context that failed.'),
        newNumCtx: whole('retry: the context tried next.'),
        numBatch: whole('Batch size.'),
        parallel: whole('load-request: slots.'),
        count: whole('eviction / retry: models evicted, or loaded at the retry.'),
        seconds: { type: 'number', minimum: 0, description: 'runner-started: seconds to start.' },
      },
    },
  },
} as const

export type ServerEvent = FromSchema<typeof serverEventSchema>
