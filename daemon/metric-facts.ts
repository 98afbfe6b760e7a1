import { classify, PARALLEL_ARG_RE } from '../core/model/roles.js'
import type { MetricProcess } from './metrics.js'
import type { ProcInfo } from './probe/proc-linux.js'
import { isServer } from './select.js'

/** What a process's command line says for the metrics: its role and a runner's slots. The command line itself stays here. */
type CommandFacts = Pick<MetricProcess, 'role' | 'parallel' | 'ctxCells'>

/** Each traced process's command facts, read once per process (keyed as the runners are), not every second. */
export class MetricFacts {
  readonly #seen = new Map<string, CommandFacts>()

  /** The process as the metrics take it: no command line, no name but the model's. */
  process(p: ProcInfo, key: string, model: string | undefined): MetricProcess {
    let facts = this.#seen.get(key)
    if (!facts) {
      // Processes come and go: the cache is dropped when it holds far more than is traced.
      if (this.#seen.size > 4096) this.#seen.clear()
      this.#seen.set(key, (facts = commandFacts(p)))
    }
    return { pid: p.pid, ppid: p.ppid, rssBytes: p.rssKb * 1024, ...facts, ...(facts.role === 'runner' && model !== undefined ? { model } : {}) }
  }
}

function commandFacts(p: ProcInfo): CommandFacts {
  const role = isServer(p.command) ? 'server' : classify(p.comm, p.command).role === 'runner' ? 'runner' : 'other'
  if (role !== 'runner') return { role }
  const num = (re: RegExp) => {
    const m = re.exec(p.command)
    return m ? Number(m[1]) : undefined
  }
  const parallel = num(PARALLEL_ARG_RE)
  const ctxCells = num(/\s(?:-c|--ctx-size)[\s=](\d+)/)
  return { role, ...(parallel !== undefined ? { parallel } : {}), ...(ctxCells !== undefined ? { ctxCells } : {}) }
}
