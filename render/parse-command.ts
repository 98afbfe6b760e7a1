import { parseArgs } from 'node:util'
import { loadTrace } from './load.js'
import { readServerLog } from './server-log.js'
import { processRecord } from '../core/model/labels.js'
import { UsageError } from '../core/errors.js'
import { ProblemLog } from '../core/parse/problems.js'
import { jsonLine } from '../core/safe-text.js'

export const PARSE_HELP = `Usage: memtrace parse <process.tsv> <system.log> [--server-log FILE]
       memtrace parse --server-log FILE

Prints every parsed record as one JSON object per line (NDJSON): process
samples, system samples, memtrace events, then one "process" record per
process drawn, one "server-event" record per line of the server's log that
says why memory moved (Ollama's estimates and decisions, what each device
allocated, runners started and stopped, the kernel's OOM kills), and one
"problem" record per damaged line. Each validates against the schema named by
its "record" field (see memtrace schema).

  --server-log FILE   Ollama's server log: its server.log, journalctl -u ollama,
                      docker logs, or a paste of any of them (also dmesg lines)`

/** Writes lines with backpressure; stops quietly when the reader goes away. */
export class LineWriter {
  #buf: string[] = []
  #closed = false
  constructor(private readonly out: NodeJS.WritableStream) {
    out.on('error', () => (this.#closed = true))
  }
  push(obj: unknown): void {
    if (this.#closed) return
    const s = `${jsonLine(obj)}\n`
    this.#buf.push(s)
  }
  async flush(): Promise<void> {
    if (this.#buf.length === 0 || this.#closed) return
    const chunk = this.#buf.join('')
    this.#buf = []
    if (!this.out.write(chunk)) {
      // Whichever comes first; the other two listeners are taken off, or they pile up a wait at a time.
      await new Promise<void>(r => {
        const done = () => {
          this.out.off('drain', done)
          this.out.off('error', done)
          this.out.off('close', done)
          r()
        }
        this.out.on('drain', done)
        this.out.on('error', done)
        this.out.on('close', done)
      })
    }
  }
}

export async function runParse(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, 'server-log': { type: 'string' } } })
  if (values.help) {
    out.write(`${PARSE_HELP}\n`)
    return 0
  }
  const serverLog = values['server-log']
  if (positionals.length !== 2 && !(serverLog !== undefined && positionals.length === 0)) throw new UsageError('expected <process.tsv> <system.log>, or --server-log FILE')
  const w = new LineWriter(out)
  const problems = new ProblemLog()
  const pending: unknown[] = []
  problems.onProblem(p => pending.push(p))
  if (positionals.length === 0) {
    await readServerLog(serverLog as string, problems, e => w.push(e), () => w.flush())
    for (const p of pending) w.push(p)
    await w.flush()
    return 0
  }
  // Records stream out as parsed, drained between chunks of input.
  const { trace } = await loadTrace(
    positionals[0] as string,
    positionals[1] as string,
    r => w.push(r),
    problems,
    () => w.flush(),
  )
  for (const s of trace.procs) w.push(processRecord(s))
  if (serverLog !== undefined) await readServerLog(serverLog, problems, e => w.push(e), () => w.flush())
  for (const p of pending) w.push(p)
  await w.flush()
  return 0
}
