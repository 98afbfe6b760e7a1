import type { FromSchema } from './from-schema.js'

const bytes = { type: 'number', minimum: 0 } as const

/** What `memtrace plan --json` prints: a model's predicted memory against this machine's. */
export const planSchema = {
  $id: 'https://memtrace.dev/schemas/plan.json',
  title: 'plan',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'model', 'weightsBytes', 'kvBytesPerSlot', 'slots', 'contextLength', 'computeBytes', 'osReserveBytes', 'totalBytes', 'memTotalBytes', 'maxParallel', 'maxContext', 'kvType', 'flashAttention'],
  properties: {
    record: { const: 'plan' },
    model: { type: 'string' },
    weightsBytes: { ...bytes, description: 'The weights blob, as the manifest sizes it.' },
    kvBytesPerSlot: { ...bytes, description: "KV cache of one slot: KV heads × (key + value length) × bytes per element × the cells of each block (the context; a sliding-window layer's window + batch, padded to 256, at most the context)." },
    slots: { type: 'integer', minimum: 1, description: 'NUM_PARALLEL.' },
    contextLength: { type: 'integer', minimum: 1, description: 'num_ctx of each slot.' },
    computeBytes: { ...bytes, description: "llama.cpp's compute buffer for a 512-token micro-batch: the largest of its graph's phases (masks with attention or feed-forward, or the logits)." },
    osReserveBytes: { ...bytes, description: 'Memory in use on this machine now (total − available), measured; or what --os-reserve gave.' },
    host: { enum: ['measured', 'given'], description: "measured: this machine's memory and its use now; given: --memory and --os-reserve (or --os-reserve alone, for the use)." },
    totalBytes: bytes,
    memTotalBytes: bytes,
    vramTotalBytes: { ...bytes, description: 'All NVIDIA GPUs together, where nvidia-smi reports them.' },
    maxParallel: { type: 'integer', minimum: 0, description: 'The most slots that fit at this context.' },
    maxContext: { type: 'integer', minimum: 0, description: 'The longest context, a power of two up to the trained one, that fits with these slots.' },
    kvType: { enum: ['f16', 'q8_0', 'q4_0'] },
    flashAttention: { type: 'boolean' },
  },
} as const

export type PlanRecord = FromSchema<typeof planSchema>
