import { basename } from 'node:path'
import type { ProblemLog } from '../core/parse/problems.js'
import { ServerLogParser } from '../core/parse/server-log.js'
import type { ServerEvent } from '../schemas/index.js'
import { read } from './load.js'
import { MAX_LINE } from './read-trace.js'

/**
 * Reads a server log (kept by the daemon, or pasted by a user) and hands
 * each event to `sink`, streaming: one chunk in memory at a time, whatever
 * the log's size. Returns how many events it read.
 */
export async function readServerLog(path: string, problems: ProblemLog, sink: (e: ServerEvent) => void, drain?: () => Promise<void>): Promise<number> {
  const name = basename(path)
  const parser = new ServerLogParser(name, problems)
  let n = 0
  const take = (es: ServerEvent[]) => {
    for (const e of es) {
      n++
      sink(e)
    }
  }
  // A last line without its newline is still a line of a log (a paste ends anywhere).
  await read(path, (line, no) => take(parser.line(line, no)), (no, line) => take(parser.line(line, no)), drain, no => problems.add(name, no, 'line-too-long', `a line longer than ${MAX_LINE} characters; skipped`))
  take(parser.end())
  return n
}
