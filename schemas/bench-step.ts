import type { FromSchema } from './from-schema.js'

const bytes = { type: 'number', minimum: 0 } as const
const rate = { type: 'number', minimum: 0 } as const

/** One step of a memtrace experiment, as `results.jsonl` holds it. */
export const benchStepSchema = {
  $id: 'https://memtrace.dev/schemas/bench-step.json',
  title: 'bench-step',
  type: 'object',
  additionalProperties: false,
  required: ['record', 'experiment', 'step', 'model', 'outcome', 'startedAt', 'endedAt'],
  properties: {
    record: { const: 'bench-step' },
    experiment: { enum: ['num-parallel', 'parallel', 'models'] },
    step: { type: 'integer', minimum: 1, description: 'The NUM_PARALLEL of the step (num-parallel), or the concurrency P.' },
    model: { type: 'string' },
    outcome: { type: 'string', description: '"ok", or "did not load: …" and the like.' },
    startedAt: { type: 'string' },
    endedAt: { type: 'string' },
    requests: { type: 'integer', minimum: 0 },
    genTps: { ...rate, description: 'Generation tokens per second per request, mean (eval_count / eval_duration).' },
    genTpsSd: { ...rate, description: 'Its standard deviation over the requests.' },
    prefillTps: { ...rate, description: 'prompt_eval_count / prompt_eval_duration, mean.' },
    prefillTpsSd: { ...rate, description: 'Its standard deviation over the requests.' },
    ttftMs: { ...rate, description: 'Time to the first streamed token, mean.' },
    ttftMsSd: { ...rate, description: 'Its standard deviation over the requests.' },
    totalTps: { ...rate, description: 'Tokens per second of all requests of a round together (parallel), mean over the rounds.' },
    totalTpsSd: { ...rate, description: 'Its standard deviation over the rounds.' },
    ttftP50Ms: { ...rate, description: 'Median time to the first token (parallel).' },
    ttftMaxMs: { ...rate, description: 'Longest time to the first token (parallel).' },
    verdict: { type: 'array', items: { enum: ['cliff', 'peak', 'knee'] }, description: "What this step is in seed 001's terms (parallel)." },
    effectiveNp: { type: 'integer', minimum: 1, description: "The NUM_PARALLEL the runner got (its argv, else the server's log)." },
    npMismatch: { type: 'boolean' },
    rssIdleBytes: { ...bytes, description: "The runner's RSS at the step's first sample after the warm-up." },
    rssPeakBytes: { ...bytes, description: "The runner's highest RSS during the step." },
    swapGrowthBytes: { type: 'number', description: 'Swap used at the end of the step less at its start.' },
    pageOuts: { type: 'number', minimum: 0, description: 'Page-outs during the step (macOS Pageouts, Linux pswpout).' },
    freePctMin: { type: 'number', minimum: 0, maximum: 100 },
    compressionGrowthBytes: { type: 'number', description: "macOS: the compressor's memory at the end of the step less at its start." },
    otherCpuPct: { type: 'number', minimum: 0, maximum: 100, description: 'CPU used by processes other than the managed server, its runners and memtrace while the requests ran, in % of the whole machine (Linux /proc/stat).' },
    otherCpuPctBefore: { type: 'number', minimum: 0, maximum: 100, description: 'The same over one second just before the requests, the server idle.' },
    loadAvg: { type: 'number', minimum: 0, description: 'The 1-minute load average when the requests ended.' },
    loadAvgBefore: { type: 'number', minimum: 0, description: 'The 1-minute load average just before the requests.' },
    memBeforeBytes: { ...bytes, description: "models: the host's memory in use before the model loaded." },
    memAfterBytes: { ...bytes, description: 'models: in use once the model was unloaded and its runner gone.' },
    notGivenBackBytes: { type: 'number', description: 'models: after less before.' },
    unloadMs: { ...rate, description: 'models: from asking to unload (keep_alive 0) to /api/ps empty and the runner gone.' },
    retried: { type: 'boolean', description: 'models: the load failed once, and the server was restarted for a second try.' },
    restarted: { type: 'boolean', description: 'models: the server was restarted before this model, as the plan said it would not fit beside what was in use.' },
    notGivenBack: { type: 'boolean', description: 'models: more than 256 MiB more in use once the model was unloaded than before it loaded.' },
    phase: { enum: ['flat', 'degradation', 'cliff', 'stabilized'] },
    cause: { enum: ['memory', 'compute'], description: 'For a step slower than flat (num-parallel: always memory, as compute is held constant), or from the cliff on (parallel: memory when page-outs, swap or the compressor grew, compute otherwise).' },
  },
} as const

export type BenchStep = FromSchema<typeof benchStepSchema>
