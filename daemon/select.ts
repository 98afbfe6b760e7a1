/** Which processes are traced: pure, so it is tested without /proc. */

export interface Candidate {
  pid: number
  ppid: number
  comm: string
  command: string
}

/** The seed's pattern: `/[o]llama|[m]lx|[r]unner/` in awk. */
export const DEFAULT_MATCH = 'ollama|mlx|runner'

// Windows quotes the program's path when it holds a space: `"C:\Users\Zoë Åberg\…\ollama.exe" serve`.
const SERVE_RE = /(^|[\/\\\s"])ollama(\.exe)?"?\s+serve(\s|$)/i
/** memtrace's own commands (`memtrace mark …`, `node …/memtrace.js start …`). */
const SELF_RE = /(^|[\s/])memtrace(\.js)?\s+(start|stop|status|mark|render|parse|schema|run)\b/

/**
 * Processes whose command line (or name) matches the pattern, and every
 * descendant of an `ollama serve`: runners whose names say neither ollama nor
 * runner (`llama-server`) are children of the server. memtrace's own process,
 * its children (commands it runs) and other memtrace commands are never traced.
 */
export function selectProcesses<T extends Candidate>(all: T[], match: RegExp, selfPid: number): T[] {
  const children = new Map<number, T[]>()
  for (const p of all) {
    const list = children.get(p.ppid)
    if (list) list.push(p)
    else children.set(p.ppid, [p])
  }
  const excluded = new Set<number>()
  const mark = (pid: number, into: Set<number>) => {
    const stack = [pid]
    while (stack.length) {
      const cur = stack.pop() as number
      if (into.has(cur)) continue
      into.add(cur)
      for (const c of children.get(cur) ?? []) stack.push(c.pid)
    }
  }
  mark(selfPid, excluded)
  const served = new Set<number>()
  // `(ollama)`: a server whose arguments ps may not read (run as root); its children, `(llama-server)` among them, are its runners.
  for (const p of all) if ((SERVE_RE.test(p.command) || p.command === '(ollama)') && !excluded.has(p.pid)) mark(p.pid, served)
  return all.filter(
    p => !excluded.has(p.pid) && !SELF_RE.test(p.command) && (served.has(p.pid) || match.test(p.command) || match.test(p.comm)),
  )
}

/** Server processes (for the cgroup and the models directory). */
export function isServer(command: string): boolean {
  return SERVE_RE.test(command)
}
