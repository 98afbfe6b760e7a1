/** `render --dir`: which two files in a trace directory belong together. */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { InputError } from '../core/errors.js'

/** `20260225-140300` and `20260225-140300-2` (a second start in the same second): the key a pair of traces shares. */
const TRACE_RE = /^(ollama-process|system)-memtrace-(\d{8}-\d{6})(?:-(\d+))?\.(tsv|log)$/
/** Traces renamed by hand keep whatever stands between the prefix and the extension as their stamp. */
const LOOSE_RE = /^(ollama-process|system)-memtrace-(.+)()\.(tsv|log)$/

/**
 * The newest pair of traces in a directory: the process trace and the
 * system log that share one stamp (and suffix), never one of each from
 * different runs.
 */
export function newestInDir(dir: string, out: string | undefined) {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    throw new InputError(`cannot read directory ${dir}`)
  }
  const pairs = new Map<string, { stamp: string; n: number; suffix: string; strict: boolean; proc?: string; sys?: string }>()
  for (const name of names) {
    const strict = TRACE_RE.exec(name)
    const m = strict ?? LOOSE_RE.exec(name)
    if (!m || (m[1] === 'ollama-process') !== (m[4] === 'tsv')) continue
    const stamp = m[2] as string
    const n = m[3] ? Number(m[3]) : 1
    // Paired by the name as written: `-02` is not `-2`, and `-1` is not the plain name.
    const key = `${strict ? 's' : 'l'}:${stamp}#${m[3] ?? ''}`
    const p = pairs.get(key) ?? { stamp, n, suffix: m[3] ?? '', strict: strict !== null }
    if (m[1] === 'ollama-process') p.proc = name
    else p.sys = name
    pairs.set(key, p)
  }
  // Traces named as the daemon names them come before hand-renamed ones, whatever their names.
  const complete = [...pairs.values()]
    .filter(p => p.proc && p.sys)
    .sort((a, b) => Number(a.strict) - Number(b.strict) || (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.n - b.n))
  const newest = complete[complete.length - 1]
  if (!newest) {
    const found = names.filter(n => LOOSE_RE.test(n)).sort()
    const seen = found.length ? `; found only ${found.slice(0, 6).join(', ')}${found.length > 6 ? ` and ${found.length - 6} more` : ''}, with no partner of the same stamp` : ''
    throw new InputError(`no traces in ${dir}: expected ollama-process-memtrace-<stamp>.tsv and system-memtrace-<stamp>.log${seen}`)
  }
  const stamp = newest.suffix ? `${newest.stamp}-${newest.suffix}` : newest.stamp
  // The daemon's third file, the server's memory lines, shares the stamp where the server's log was followed.
  const server = `ollama-server-memtrace-${newest.proc?.replace(/^ollama-process-memtrace-(.*)\.tsv$/, '$1')}.log`
  return {
    procPath: join(dir, newest.proc as string),
    sysPath: join(dir, newest.sys as string),
    outPath: out ?? join(dir, `memtrace-${stamp}.svg`),
    ...(names.includes(server) ? { serverLogPath: join(dir, server) } : {}),
  }
}
