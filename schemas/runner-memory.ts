import type { FromSchema } from './from-schema.js'

const bytes = (description: string) => ({ type: 'number', minimum: 0, description: `${description} Bytes.` }) as const

/**
 * One runner's memory three ways, side by side: what Ollama predicted before
 * loading it, what was allocated (by device), and what was measured. Printed
 * by `memtrace render --json` after the findings, one per runner, and one
 * per load in the server's log that no runner of the trace could be tied to.
 */
export const runnerMemorySchema = {
  $id: 'https://memtrace.dev/schemas/runner-memory.json',
  title: 'runner-memory',
  type: 'object',
  additionalProperties: false,
  required: ['record'],
  properties: {
    record: { const: 'runner-memory' },
    pid: { type: 'integer', minimum: 0, description: 'The runner; absent for a load the log names that no traced runner ties to.' },
    model: { type: 'string', description: 'Its model: a name, or a weights blob (sha256-…) when nothing names it.' },
    firstSeen: { type: 'string', description: 'UTC ISO-8601: its first process sample.' },
    lastSeen: { type: 'string', description: 'UTC ISO-8601: its last process sample.' },
    tiedBy: { enum: ['pid', 'port', 'blob', 'model', 'time'], description: 'How the server log\'s lines were tied to the runner.' },
    predictedBytes: bytes('Ollama\'s prediction for the whole model (`predicted=` from 0.30, `required=`, or the estimate\'s `memory.required.full`).'),
    predictedAt: { type: 'string', description: 'UTC ISO-8601 of the line with the prediction, when it has a time.' },
    allocatedBytes: bytes('What was allocated in all: Ollama\'s `total memory`, else the sum of the buffers llama.cpp or Ollama\'s engine printed.'),
    allocatedSystemBytes: bytes('Of it, in system RAM (CPU, CPU_Mapped, *_Host buffers).'),
    allocatedGpuBytes: bytes('Of it, on the GPU (or unified memory).'),
    rssBytes: bytes('The runner\'s highest RSS sample.'),
    gpuBytes: bytes('The most GPU memory nvidia-smi listed for the runner\'s PID.'),
    errorPct: { type: 'number', description: '(predicted − actual) / actual × 100, with actual the allocation, else RSS plus the runner\'s GPU memory; one decimal.' },
    errorAgainst: { enum: ['allocated', 'measured'], description: 'What errorPct compares the prediction with.' },
  },
} as const

export type RunnerMemory = FromSchema<typeof runnerMemorySchema>
