import type { FromSchema } from './from-schema.js'
import { loadedModelSchema } from './loaded-model.js'

// Embedded without its $id, so one validator can hold both schemas.
const { $id: _modelId, ...loadedModel } = loadedModelSchema

const bytes = { type: 'number', minimum: 0 } as const
const count = { type: 'number', minimum: 0 } as const
const psi = {
  type: 'object',
  additionalProperties: false,
  required: ['someAvg10', 'someAvg60', 'someAvg300', 'someTotalUs'],
  properties: {
    someAvg10: { type: 'number' },
    someAvg60: { type: 'number' },
    someAvg300: { type: 'number' },
    someTotalUs: { type: 'number' },
    fullAvg10: { type: 'number' },
    fullAvg60: { type: 'number' },
    fullAvg300: { type: 'number' },
    fullTotalUs: { type: 'number' },
  },
} as const

/**
 * One `===== ts =====` block of the system trace, with what each section in it
 * said. A field is absent when no section in the block carried it: absence is
 * "not measured", never zero.
 */
export const systemSampleSchema = {
  $id: 'https://memtrace.dev/schemas/system-sample.json',
  title: 'system-sample',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'ts', 'line', 'platform', 'sections'],
  properties: {
    record: { const: 'system-sample' },
    ts: { type: 'string', description: 'Block time, UTC ISO-8601 as written.' },
    line: { type: 'integer', minimum: 1, description: 'Line of the ===== header.' },
    platform: { enum: ['macos', 'linux', 'windows', 'unknown'] },
    sections: {
      type: 'array',
      items: {
        enum: ['vm_stat', 'memory_pressure', 'swapusage', 'ollama-ps', 'api-ps', 'meminfo', 'psi', 'vmstat', 'nvidia-smi', 'cgroup', 'swaps', 'sysctl', 'free', 'memtrace', 'amdgpu', 'rocm-smi', 'amd-smi', 'tegrastats', 'tasklist', 'get-process', 'process-csv', 'systeminfo', 'get-counter', 'counter-csv'],
      },
      description: 'Sections recognised in the block, in order of first appearance.',
    },
    memTotalBytes: bytes,
    freePct: { type: 'number', minimum: 0, maximum: 100, description: 'macOS: memory_pressure free %; Linux: MemAvailable / MemTotal.' },
    pageSizeBytes: bytes,
    freeBytes: { ...bytes, description: 'macOS: vm_stat Pages free; Linux: MemFree.' },
    wiredBytes: bytes,
    compressorBytes: { ...bytes, description: 'vm_stat Pages occupied by compressor (physical RAM held by the compressor).' },
    activeBytes: bytes,
    inactiveBytes: bytes,
    speculativeBytes: bytes,
    fileBackedBytes: bytes,
    anonymousBytes: bytes,
    pageins: count,
    pageouts: count,
    swapins: count,
    swapouts: count,
    vmStat: { type: 'object', additionalProperties: { type: 'number' }, description: 'Every vm_stat counter as printed (pages, or bytes where the label says so).' },
    sysctl: { type: 'object', additionalProperties: { type: 'number' }, description: 'Numeric sysctl values printed as `name: value` (hw.memsize sets memTotalBytes).' },
    swapTotalBytes: bytes,
    swapUsedBytes: bytes,
    swapFreeBytes: bytes,
    availableBytes: { ...bytes, description: 'Linux MemAvailable; Windows: available physical memory (systeminfo, \\Memory\\Available Bytes).' },
    usedBytes: { ...bytes, description: 'Linux MemTotal - MemAvailable; Windows: total physical - available.' },
    commitBytes: { ...bytes, description: 'Windows: commit charge (\\Memory\\Committed Bytes, systeminfo "Virtual Memory: In Use").' },
    commitLimitBytes: { ...bytes, description: 'Windows: commit limit, physical memory plus page files (\\Memory\\Commit Limit, systeminfo "Virtual Memory: Max Size").' },
    pagesPerSec: { ...count, description: 'Windows: \\Memory\\Pages/sec, pages read from or written to disk per second.' },
    pageFileUsagePct: { type: 'number', minimum: 0, maximum: 100, description: 'Windows: \\Paging File(_Total)\\% Usage.' },
    meminfo: { type: 'object', additionalProperties: { type: 'number' }, description: '/proc/meminfo fields in bytes.' },
    free: {
      type: 'object',
      additionalProperties: false,
      required: ['totalBytes', 'freeBytes'],
      description: 'What `free` printed, in bytes (as rounded as it printed them). /proc/meminfo wins where both are in a block.',
      properties: {
        totalBytes: bytes,
        freeBytes: bytes,
        availableBytes: bytes,
        swapTotalBytes: bytes,
        swapUsedBytes: bytes,
        swapFreeBytes: bytes,
      },
    },
    swapInPages: { ...count, description: '/proc/vmstat pswpin (cumulative).' },
    swapOutPages: { ...count, description: '/proc/vmstat pswpout (cumulative).' },
    vmstat: { type: 'object', additionalProperties: { type: 'number' }, description: '/proc/vmstat counters present in the block.' },
    pressure: psi,
    cgroup: {
      type: 'object',
      additionalProperties: false,
      required: [],
      properties: {
        path: { type: 'string' },
        usageBytes: bytes,
        limitBytes: { type: ['number', 'null'], description: 'null when unlimited (max).' },
        swapBytes: bytes,
        peakBytes: bytes,
        pressure: psi,
      },
    },
    gpus: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index', 'usedBytes', 'totalBytes'],
        properties: {
          index: { type: 'integer', minimum: 0 },
          name: { type: 'string' },
          usedBytes: bytes,
          totalBytes: bytes,
          source: { enum: ['nvidia-smi', 'amdgpu', 'rocm-smi', 'amd-smi'], description: 'Where the figures came from; absent means nvidia-smi.' },
          gttUsedBytes: { ...bytes, description: "amdgpu: system RAM mapped for the GPU (GTT), where an APU's allocations go." },
          gttTotalBytes: bytes,
        },
      },
    },
    gpuUnread: {
      type: 'array',
      description: 'GPUs listed whose memory the driver does not give (`[N/A]`, `Not Supported`): named, never counted as zero.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index', 'printed'],
        properties: {
          index: { type: 'integer', minimum: 0 },
          name: { type: 'string' },
          printed: { type: 'string', description: 'What was printed for its memory.' },
        },
      },
    },
    unifiedMemory: { type: 'boolean', description: 'The GPU shares system RAM (DGX Spark GB10, Jetson, tegrastats seen): its allocations are system memory.' },
    tegrastats: {
      type: 'object',
      additionalProperties: false,
      required: ['ramUsedBytes', 'ramTotalBytes'],
      description: "tegrastats' RAM and SWAP (MB there is MiB). RAM used is the board's, GPU allocations included.",
      properties: { ramUsedBytes: bytes, ramTotalBytes: bytes, swapUsedBytes: bytes, swapTotalBytes: bytes },
    },
    gpuProcesses: {
      type: 'array',
      description: "Processes holding GPU memory: from nvidia-smi (its default table, or its compute-apps query), and on Windows from the GPU Process Memory counters (one row per process and adapter; a process's rows add up).",
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['pid', 'usedBytes'],
        properties: {
          gpu: { type: 'integer', minimum: 0, description: "nvidia-smi's GPU index, on each of its rows. The counters' rows have none: their adapter names the GPU." },
          pid: { type: 'integer', minimum: 0 },
          type: { type: 'string', description: 'nvidia-smi: C (compute), G (graphics), C+G, M (MPS). The counters do not say.' },
          usedBytes: { ...bytes, description: "The GPU's own memory the process holds (nvidia-smi's figure; the counters' Dedicated Usage)." },
          sharedBytes: { ...bytes, description: 'The counters: Shared Usage, system RAM the GPU maps for the process (where an integrated GPU holds its allocations).' },
          adapter: { type: 'string', description: "The counters: the adapter as their instance names it (`luid_0x…_0x…_phys_N`, lower case), the same in every block until the PC restarts (a LUID is made at each boot); not nvidia-smi's index." },
          source: { enum: ['gpu-counters'], description: 'Where the row came from; absent means nvidia-smi.' },
        },
      },
    },
    models: { type: 'array', items: loadedModel, description: 'What /api/ps listed.' },
    cliModels: { type: 'array', items: loadedModel, description: 'What ollama ps listed.' },
    servers: { type: 'array', items: { type: 'string' }, description: 'With several Ollama servers on the host: the servers (address, host:port) whose listings this block holds; each model carries its server. Absent when the block does not say (one server, or a hand-made log): its listing is every server\'s.' },
  },
} as const

export type SystemSample = FromSchema<typeof systemSampleSchema>
export type SectionName = SystemSample['sections'][number]
export type Pressure = NonNullable<SystemSample['pressure']>
