import type { FromSchema } from './from-schema.js'

/**
 * A line the daemon adds to the system trace: `memtrace <kind> <json>`.
 * markers (memtrace mark), runner→model mappings, daemon starts, missed
 * ticks, sources that failed, samples dropped while writes failed, and
 * traced processes the kernel's OOM killer killed (Linux), and, with several
 * Ollama servers on the host, which server the listings that follow are.
 */
export const traceEventSchema = {
  $id: 'https://memtrace.dev/schemas/trace-event.json',
  title: 'trace-event',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'kind', 'ts', 'line'],
  properties: {
    record: { const: 'trace-event' },
    kind: { enum: ['marker', 'runner', 'start', 'missed', 'source-error', 'dropped', 'oom-kill', 'server'] },
    ts: { type: 'string', description: 'When it happened (the event own ts, else its block ts).' },
    line: { type: 'integer', minimum: 1 },
    text: { type: 'string', description: 'marker: the label; oom-kill: the killed process\'s name.' },
    pid: { type: 'integer', minimum: 0, description: 'runner: the runner process; oom-kill: the killed process.' },
    model: { type: 'string', description: 'runner: the model name resolved from the manifests.' },
    blob: { type: 'string', description: 'runner: the --model blob (sha256-…).' },
    source: { type: 'string', description: 'source-error / missed: which sampler; oom-kill: how the kill was seen (kernel, vmstat, cgroup).' },
    message: { type: 'string' },
    ticks: { type: 'integer', minimum: 0, description: 'missed: how many ticks were skipped.' },
    version: { type: 'string', description: 'start: memtrace version.' },
    file: { type: 'string', description: 'dropped: which file lost samples (process, system, log).' },
    address: { type: 'string', description: 'server: the address (host:port) the server answers at; the listings after this line in its block are this server\'s.' },
    via: { type: 'string', description: 'server: where the address was read: environ (its OLLAMA_HOST), argv (OLLAMA_HOST=… on a launching command line), default (no OLLAMA_HOST: 127.0.0.1:11434), option (--ollama-url, the environment being unreadable).' },
    bytes: { type: 'integer', minimum: 0, description: 'dropped: how many bytes of whole samples were dropped; oom-kill: the process\'s RSS at its last sample.' },
  },
} as const

export type TraceEvent = FromSchema<typeof traceEventSchema>
