import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** One process as the kernel sees it, read from /proc/<pid>/stat and cmdline. */
export interface ProcInfo {
  pid: number
  ppid: number
  /** Kernel task name (15 characters at most). */
  comm: string
  rssKb: number
  vszKb: number
  /** Command line, arguments joined by spaces; `[comm]` for kernel threads. */
  command: string
  /** Start time in clock ticks since boot: with pid, names a process uniquely. */
  startTicks: number
}

/**
 * Reads processes straight from /proc, with no `ps` spawned. Command lines
 * do not change after exec, so each is read once per process (pid + start
 * time) and cached; a reused PID has another start time and is read afresh.
 */
export class LinuxProcReader {
  readonly #root: string
  readonly #pageKb: number
  #cmdlines = new Map<string, string>()

  constructor(procRoot = '/proc') {
    this.#root = procRoot
    this.#pageKb = pageSizeKb(procRoot)
  }

  /** Every process; those that vanish mid-read are skipped. */
  scan(): ProcInfo[] {
    const out: ProcInfo[] = []
    const seen = new Map<string, string>()
    for (const name of readdirSync(this.#root)) {
      const c = name.charCodeAt(0)
      if (c < 48 || c > 57) continue
      const p = this.#read(name, seen)
      if (p) out.push(p)
    }
    this.#cmdlines = seen // forget the exited
    return out
  }

  #read(pidText: string, seen: Map<string, string>): ProcInfo | undefined {
    let stat: string
    try {
      stat = readFileSync(join(this.#root, pidText, 'stat'), 'latin1')
    } catch {
      return undefined // exited between readdir and read
    }
    // comm may hold spaces and parentheses: it runs to the last ')'.
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    if (open < 0 || close < open) return undefined
    const comm = stat.slice(open + 1, close)
    const f = stat.slice(close + 2).split(' ')
    // fields after comm: state(0) ppid(1) … starttime(19) vsize(20) rss(21)
    const ppid = Number(f[1])
    const startTicks = Number(f[19])
    const vszKb = Math.round(Number(f[20]) / 1024)
    const rssKb = Number(f[21]) * this.#pageKb
    const key = `${pidText}:${startTicks}`
    let command = this.#cmdlines.get(key)
    if (command === undefined) {
      command = readCmdline(join(this.#root, pidText, 'cmdline')) || `[${comm}]`
    }
    seen.set(key, command)
    return { pid: Number(pidText), ppid, comm, rssKb, vszKb, command, startTicks }
  }
}

function readCmdline(path: string): string {
  try {
    const raw = readFileSync(path)
    let end = raw.length
    while (end > 0 && raw[end - 1] === 0) end--
    return raw.toString('utf8', 0, end).replace(/\u0000/g, ' ')
  } catch {
    return ''
  }
}

/** Page size in KiB, from our own RSS as pages (statm) and as kB (status). */
function pageSizeKb(root: string): number {
  try {
    const pages = Number(readFileSync(join(root, 'self', 'statm'), 'latin1').split(' ')[1])
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(join(root, 'self', 'status'), 'latin1'))?.[1])
    const ratio = kb / pages
    for (const size of [4, 16, 64]) if (Math.abs(ratio - size) / size < 0.2) return size
  } catch {
    /* fall through */
  }
  return 4
}
