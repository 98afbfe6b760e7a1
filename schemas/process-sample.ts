import type { FromSchema } from './from-schema.js'

/** One row of the process trace: one matching process at one sample time. */
export const processSampleSchema = {
  $id: 'https://memtrace.dev/schemas/process-sample.json',
  title: 'process-sample',
  description: 'One row of the process trace (ts pid ppid comm rss_kb vsz_kb command).',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'ts', 'line', 'pid', 'ppid', 'comm', 'rssKb', 'vszKb', 'command'],
  properties: {
    record: { const: 'process-sample' },
    ts: { type: 'string', description: 'Sample time, UTC ISO-8601 as written in the trace.' },
    line: { type: 'integer', minimum: 1, description: '1-based line in the process trace (for a row of a Windows listing pasted into a block: its line in the system log).' },
    pid: { type: 'integer', minimum: 0 },
    ppid: { type: 'integer', minimum: 0 },
    comm: { type: 'string', description: 'ps comm: a full path on macOS, 15 chars on Linux.' },
    rssKb: { type: 'integer', minimum: 0, description: 'Resident set size, KiB.' },
    vszKb: { type: 'integer', minimum: 0, description: 'Virtual size, KiB.' },
    command: { type: 'string', description: 'Full command line.' },
  },
} as const

export type ProcessSample = FromSchema<typeof processSampleSchema>
