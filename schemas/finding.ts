import type { FromSchema } from './from-schema.js'

/** Something the traces show that a maintainer wants to read first, with its figures. */
export const findingSchema = {
  $id: 'https://memtrace.dev/schemas/finding.json',
  title: 'finding',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'n', 'kind', 'start', 'text'],
  properties: {
    record: { const: 'finding' },
    n: { type: 'integer', minimum: 1, description: 'Its number: 1 is the most important. The same number labels it on the chart, in the terminal and in the report.' },
    kind: { enum: ['oom-kill', 'runner-killed', 'load-failed', 'eviction', 'prediction-off', 'working-set', 'runner-overlap', 'low-free', 'wired-jump', 'pressure-after-low-free', 'not-given-back', 'claim-vs-measured', 'orphan-runner', 'runner-gone-while-listed', 'gap', 'server-unanswered', 'daemon-restart'] },
    start: { type: 'string', description: 'UTC ISO-8601.' },
    end: { type: 'string', description: 'UTC ISO-8601; absent for an instant.' },
    pids: { type: 'array', items: { type: 'integer', minimum: 0 } },
    models: { type: 'array', items: { type: 'string' } },
    text: { type: 'string', description: 'The finding as a sentence, times in the chart zone.' },
    figures: { type: 'object', additionalProperties: { type: 'number' }, description: 'The numbers in the text, bytes and percent, by name.' },
  },
} as const

export type Finding = FromSchema<typeof findingSchema>
