import type { FromSchema } from './from-schema.js'

/** Something the traces show that a maintainer wants to read first, with its figures. */
export const findingSchema = {
  $id: 'https://memtrace.dev/schemas/finding.json',
  title: 'finding',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'n', 'severity', 'kind', 'start', 'text'],
  properties: {
    record: { const: 'finding' },
    n: { type: 'integer', minimum: 1, description: 'Its number: 1 is the most important. The same number labels it on the chart, in the terminal and in the report.' },
    severity: {
      enum: ['killed', 'exhausted', 'short', 'not-given-back', 'estimate', 'other'],
      description:
        'How much harm it tells of, most first; findings are ordered by it. killed: a process killed or a load failed. exhausted: memory ran out (free memory low with swap or the compressor growing, a container at its limit, a GPU working set exceeded). short: runners alive together, an orphan or an eviction while memory was short, or free memory low without swapping. not-given-back: memory a runner kept, or an orphan kept while memory was ample. estimate: Ollama\'s figure far from the measured one. other: the rest.',
    },
    kind: { enum: ['oom-kill', 'runner-killed', 'load-failed', 'container-limit', 'commit-limit', 'eviction', 'prediction-off', 'working-set', 'runner-overlap', 'low-free', 'wired-jump', 'pressure-after-low-free', 'not-given-back', 'claim-vs-measured', 'orphan-runner', 'runner-gone-while-listed', 'gap', 'server-unanswered', 'daemon-restart'] },
    start: { type: 'string', description: 'UTC ISO-8601.' },
    end: { type: 'string', description: 'UTC ISO-8601; absent for an instant.' },
    pids: { type: 'array', items: { type: 'integer', minimum: 0 } },
    models: { type: 'array', items: { type: 'string' } },
    text: { type: 'string', description: 'The finding as a sentence, times in the chart zone.' },
    figures: { type: 'object', additionalProperties: { type: 'number' }, description: 'The numbers in the text, bytes and percent, by name.' },
  },
} as const

export type Finding = FromSchema<typeof findingSchema>
