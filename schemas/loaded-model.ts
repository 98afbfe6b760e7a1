import type { FromSchema } from './from-schema.js'

/** A model the Ollama server said was loaded, from `/api/ps` or `ollama ps`. */
export const loadedModelSchema = {
  $id: 'https://memtrace.dev/schemas/loaded-model.json',
  title: 'loaded-model',
  type: 'object',
  additionalProperties: false,
  required: ['source', 'name', 'sizeBytes'],
  properties: {
    source: { enum: ['api-ps', 'ollama-ps'] },
    name: { type: 'string', description: 'Display name, e.g. llama3.2:latest.' },
    server: { type: 'string', description: 'The server (address, host:port) whose listing this is, where the block names one (a `memtrace server` line before it).' },
    digest: { type: 'string', description: '/api/ps digest (of the manifest) or the 12-char ID of ollama ps.' },
    sizeBytes: { type: 'number', minimum: 0, description: 'What Ollama attributes to the runner, bytes. ollama ps sizes are decimal and rounded.' },
    sizeVramBytes: { type: 'number', minimum: 0, description: 'Part of sizeBytes on the GPU (absent before Ollama 0.1.42 on CPU).' },
    processor: { type: 'string', description: 'PROCESSOR column, e.g. "100% GPU", "48%/52% CPU/GPU".' },
    contextLength: { type: 'integer', minimum: 0, description: 'Context per request slot.' },
    expiresAt: { type: 'string', description: '/api/ps expires_at as written.' },
    until: { type: 'string', description: 'UNTIL column of ollama ps, e.g. "4 minutes from now", "Forever".' },
    forever: { type: 'boolean', description: 'Kept loaded forever (keep_alive < 0).' },
    format: { type: 'string' },
    family: { type: 'string' },
    parameterSize: { type: 'string' },
    quantization: { type: 'string' },
  },
} as const

export type LoadedModel = FromSchema<typeof loadedModelSchema>
