/** The records memtrace reads and emits, each defined once as a JSON Schema. */
export { processSampleSchema, type ProcessSample } from './process-sample.js'
export { systemSampleSchema, type SystemSample, type SectionName, type Pressure } from './system-sample.js'
export { loadedModelSchema, type LoadedModel } from './loaded-model.js'
export { traceEventSchema, type TraceEvent } from './trace-event.js'
export { processSchema, type ProcessInfo, type Role } from './process.js'
export { problemSchema, PROBLEM_KINDS, type Problem, type ProblemKind } from './problem.js'
export { findingSchema, type Finding } from './finding.js'
export { planSchema, type PlanRecord } from './plan.js'
export { benchStepSchema, type BenchStep } from './bench-step.js'
export { serverEventSchema, type ServerEvent } from './server-event.js'
export { runnerMemorySchema, type RunnerMemory } from './runner-memory.js'

import { processSampleSchema } from './process-sample.js'
import { systemSampleSchema } from './system-sample.js'
import { loadedModelSchema } from './loaded-model.js'
import { traceEventSchema } from './trace-event.js'
import { processSchema } from './process.js'
import { problemSchema } from './problem.js'
import { findingSchema } from './finding.js'
import { planSchema } from './plan.js'
import { benchStepSchema } from './bench-step.js'
import { serverEventSchema } from './server-event.js'
import { runnerMemorySchema } from './runner-memory.js'

/** Every schema by its record name, for `memtrace schema` and the tests. */
export const SCHEMAS = {
  'process-sample': processSampleSchema,
  'system-sample': systemSampleSchema,
  'loaded-model': loadedModelSchema,
  'trace-event': traceEventSchema,
  process: processSchema,
  problem: problemSchema,
  finding: findingSchema,
  plan: planSchema,
  'bench-step': benchStepSchema,
  'server-event': serverEventSchema,
  'runner-memory': runnerMemorySchema,
} as const
