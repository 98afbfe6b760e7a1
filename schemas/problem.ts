import type { FromSchema } from './from-schema.js'

/** The kinds of damage a parser reports. Closed list: docs/format.md explains each. */
export const PROBLEM_KINDS = [
  'truncated-line',
  'bad-header',
  'bad-row',
  'bad-timestamp',
  'out-of-order',
  'bad-block',
  'unrecognised-line',
  'bad-json',
  'bad-value',
  'line-too-long',
  'duplicate',
] as const

export const problemSchema = {
  $id: 'https://memtrace.dev/schemas/problem.json',
  title: 'problem',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'file', 'line', 'kind', 'message'],
  properties: {
    record: { const: 'problem' },
    file: { type: 'string' },
    line: { type: 'integer', minimum: 1 },
    kind: { enum: PROBLEM_KINDS },
    message: { type: 'string' },
  },
} as const

export type Problem = FromSchema<typeof problemSchema>
export type ProblemKind = Problem['kind']
