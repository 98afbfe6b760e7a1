/** Each runner's memory three ways, read from a trace directory the daemon wrote (with its server log when it kept one). */
import type { RunnerMemory } from '../schemas/index.js'
import { ProblemLog } from '../core/parse/problems.js'
import { makeCtx } from './findings/context.js'
import { runnerMemory } from './findings/runner-memory.js'
import { loadTrace } from './load.js'
import { readServerLog } from './server-log.js'
import { newestInDir } from './trace-pair.js'

export async function runnerMemoryIn(dir: string): Promise<RunnerMemory[]> {
  const pair = newestInDir(dir, undefined)
  const { trace } = await loadTrace(pair.procPath, pair.sysPath)
  const events: Parameters<typeof makeCtx>[1]['server'] = []
  if (pair.serverLogPath) await readServerLog(pair.serverLogPath, new ProblemLog(), e => void events.push(e))
  return runnerMemory(makeCtx(trace, { zone: 'UTC', lowFreePct: 30, server: events }))
}
