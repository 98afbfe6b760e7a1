import type { FromSchema } from './from-schema.js'

/**
 * A line the daemon adds to the system trace: `memtrace <kind> <json>`.
 * markers (memtrace mark), runner→model mappings, daemon starts, missed
 * ticks, sources that failed, samples dropped while writes failed, and
 * traced processes the kernel's OOM killer killed (Linux).
 */
export const traceEventSchema = {
  $id: 'https://memtrace.dev/schemas/trace-event.json',
  title: 'trace-event',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'kind', 'ts', 'line'],
  properties: {
    record: { const: 'trace-event' },
    kind: { enum: ['marker', 'runner', 'start', 'missed', 'source-error', 'dropped', 'oom-kill'] },
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
    bytes: { type: 'integer', minimum: 0, description: 'dropped: how many bytes of whole samples were dropped; oom-kill: the process\'s RSS at its last sample.' },
  },
} as const

export type TraceEvent = FromSchema<typeof traceEventSchema>
