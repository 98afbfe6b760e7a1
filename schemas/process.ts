import type { FromSchema } from './from-schema.js'

/** One process as the renderer understood it: one line in the top panel. */
export const processSchema = {
  $id: 'https://memtrace.dev/schemas/process.json',
  title: 'process',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'id', 'pid', 'ppid', 'comm', 'command', 'role', 'label', 'firstTs', 'lastTs', 'samples', 'peakRssKb'],
  properties: {
    record: { const: 'process' },
    id: { type: 'string', description: 'pid@firstTs: unique even when a PID is reused.' },
    pid: { type: 'integer', minimum: 0 },
    ppid: { type: 'integer', minimum: 0 },
    comm: { type: 'string' },
    command: { type: 'string' },
    role: { enum: ['server', 'runner', 'discovery', 'other'] },
    engine: { type: 'string', description: 'runner engine: llama-server, ollama, ollama-engine, mlx, imagegen, ollama_llama_server.' },
    model: { type: 'string', description: 'runner: model name, or a short blob digest when it could not be named.' },
    modelSource: { enum: ['argv', 'trace', 'api-ps-match', 'blob'] },
    blob: { type: 'string' },
    label: { type: 'string', description: 'Legend text: role · model · pid.' },
    firstTs: { type: 'string' },
    lastTs: { type: 'string' },
    samples: { type: 'integer', minimum: 1 },
    peakRssKb: { type: 'integer', minimum: 0 },
  },
} as const

export type ProcessInfo = FromSchema<typeof processSchema>
export type Role = ProcessInfo['role']
