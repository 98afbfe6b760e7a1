/** A trace from a process TSV and a system log given as text, its runners named as the renderer names them. */
import { TraceBuilder, type Trace } from '../../core/model/trace.js'
import { nameRunners } from '../../core/model/names.js'
import { parseProc, parseSys } from '../../core/test/helpers.js'

export function traceOf(proc: string, sys: string): Trace {
  const b = new TraceBuilder()
  for (const r of parseProc(proc).rows) b.addProc(r)
  for (const blk of parseSys(sys).blocks) b.addSystem(blk)
  const trace = b.finish()
  nameRunners(trace)
  return trace
}
