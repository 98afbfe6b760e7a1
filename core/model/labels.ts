import type { ProcessInfo } from '../../schemas/index.js'
import type { ProcSeries } from './trace.js'
import { formatTs } from '../parse/time.js'
import { shortName } from './roles.js'

/** Legend text: `runner · qwen2.5-coder:7b · pid 4412`, `server · pid 4400`. */
export function processLabel(s: ProcSeries): string {
  if (s.role === 'runner') return `runner · ${s.model ?? 'unknown model'} · pid ${s.pid}`
  if (s.role === 'other') return `other · ${shortName(s.comm, s.command)} · pid ${s.pid}`
  return `${s.role} · pid ${s.pid}`
}

/** The process record `memtrace parse` prints and the schemas define. */
export function processRecord(s: ProcSeries): ProcessInfo {
  const first = formatTs(s.tsMs[0] as number)
  const rec: ProcessInfo = {
    record: 'process',
    id: `${s.pid}@${first}`,
    pid: s.pid,
    ppid: s.ppid,
    comm: s.comm,
    command: s.command,
    role: s.role,
    label: processLabel(s),
    firstTs: first,
    lastTs: formatTs(s.tsMs[s.tsMs.length - 1] as number),
    samples: s.tsMs.length,
    peakRssKb: s.peakRssKb,
  }
  if (s.engine) rec.engine = s.engine
  if (s.model) rec.model = s.model
  if (s.modelSource) rec.modelSource = s.modelSource
  if (s.blob) rec.blob = s.blob
  return rec
}
