import { basename } from 'node:path'
import type { ProcessSample, SystemSample, TraceEvent } from '../schemas/index.js'
import { ProblemLog } from '../core/parse/problems.js'
import { ProcTsvParser } from '../core/parse/proc-tsv.js'
import { SystemLogParser } from '../core/parse/system-log.js'
import { MAX_LINE, NotAFile, readLines } from './read-trace.js'
import { TraceBuilder, type Trace } from '../core/model/trace.js'
import { nameRunners } from '../core/model/names.js'
import { onlyTheirServers, onlyTrees } from './only-pids.js'
import { InputError } from '../core/errors.js'


export { InputError }

export interface Loaded {
  trace: Trace
  problems: ProblemLog
  procRows: number
  sysBlocks: number
  /** With `only`: how many processes the trace held before. */
  procsBefore?: number
}

/** Called with every parsed record as it streams by (for `memtrace parse`). */
export type RecordSink = (r: ProcessSample | SystemSample | TraceEvent) => void

/**
 * Reads both traces, streaming, into a trace model with named runners.
 * Damaged lines become problems; unusable files throw InputError. `drain`
 * runs after each chunk read: `memtrace parse` drains its output there, and
 * a render holds the young generation in bounds.
 */
export async function loadTrace(
  procPath: string,
  sysPath: string,
  sink?: RecordSink,
  problems = new ProblemLog(),
  drain?: () => Promise<void> | void,
  only?: number[],
): Promise<Loaded> {
  const builder = new TraceBuilder()
  const procName = basename(procPath)
  const sysName = basename(sysPath)
  const proc = new ProcTsvParser(procName, problems)
  const tooLong = (file: string) => (no: number) => problems.add(file, no, 'line-too-long', `a line longer than ${MAX_LINE} characters; skipped`)
  const procRead = await read(procPath, (line, no) => {
    // Rows go to the model field by field; a record is built only for a sink.
    if (!proc.scan(line, no)) return
    builder.addSample(proc.tsMs, proc.pid, proc.ppid, proc.comm, proc.command, proc.rssKb)
    sink?.(proc.row().sample)
  }, no => proc.truncated(no), drain, tooLong(procName))
  if (procRead.bytes === 0) throw new InputError(`${procPath} is empty`)
  if (proc.rows === 0 && !proc.sawHeader) {
    throw new InputError(`${procPath} is not a process trace: no "ts pid ppid comm rss_kb vsz_kb command" header and no valid rows`)
  }
  const sys = new SystemLogParser(sysName, problems)
  // Rows of a Windows process listing pasted into a block: process samples of the block's time.
  let listed = 0
  const onBlock = (b: ReturnType<SystemLogParser['end']>) => {
    if (!b) return
    builder.addSystem(b)
    listed += b.procs?.length ?? 0
    if (sink) for (const p of b.procs ?? []) sink({ record: 'process-sample', ts: b.sample.ts, line: p.line, pid: p.pid, ppid: p.ppid, comm: p.name, rssKb: p.rssKb, vszKb: p.vszKb, command: p.command || p.name })
    sink?.(b.sample)
    for (const e of b.events) sink?.(e)
  }
  const sysRead = await read(sysPath, (line, no) => onBlock(sys.line(line, no)), no => sys.truncated(no), drain, tooLong(sysName))
  onBlock(sys.end())
  if (sysRead.bytes === 0) throw new InputError(`${sysPath} is empty`)
  if (sys.blocks === 0 && sys.countersCsv) {
    throw new InputError(`${sysPath} is a performance counters' CSV (typeperf, Export-Counter, relog), not a system trace: put it in a block after a "===== <UTC time> =====" line (docs/format.md, "Windows")`)
  }
  if (sys.blocks === 0) throw new InputError(`${sysPath} is not a system trace: no "===== <time> =====" blocks`)
  if (proc.rows === 0 && sys.blocks === 0) throw new InputError('both traces are empty')
  const trace = builder.finish()
  // Kept to these processes before the runners are named and the servers told apart, which read them.
  const procsBefore = trace.procs.length
  if (only) {
    trace.procs = onlyTrees(trace.procs, only)
    onlyTheirServers(trace)
  }
  nameRunners(trace)
  return { trace, problems, procRows: proc.rows + listed, sysBlocks: sys.blocks, ...(only ? { procsBefore } : {}) }
}

/** `readLines`, with a message for the user when the file cannot be read. */
export async function read(
  path: string,
  onLine: (line: string, no: number) => void,
  onCut: (no: number, line: string) => void,
  drain?: () => Promise<void> | void,
  onTooLong?: (no: number) => void,
) {
  try {
    return await readLines(path, onLine, (l, no) => onCut(no, l), drain, onTooLong)
  } catch (e) {
    if (e instanceof NotAFile) throw new InputError(`cannot read ${path}: ${e.message}`)
    const err = e as NodeJS.ErrnoException
    const why =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message
    throw new InputError(`cannot read ${path}: ${why}`)
  }
}
