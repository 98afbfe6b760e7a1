import { MAX_COMMAND } from '../../core/parse/proc-tsv.js'
import { closeSync, openSync, readdirSync, readSync } from 'node:fs'

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

interface Cached extends ProcInfo {
  /** The scan that last read its stat. */
  readAt: number
  /** The scan that last listed it. */
  seenAt: number
}

/** Every this many scans, processes not traced are read again (a reparent, a PID reused within the window). */
const FULL_EVERY = 30

/**
 * Reads processes straight from /proc, with no `ps` spawned, and as little as
 * it can: a command line once per process (pid + start time; a reused PID has
 * another start time), the stat of traced and new processes every scan, and
 * of the other few hundred only every fifth scan. One buffer serves every
 * read, so a scan allocates almost nothing.
 */
export class LinuxProcReader {
  readonly #root: string
  readonly #pageKb: number
  readonly #buf = Buffer.allocUnsafe(64 * 1024)
  #cache = new Map<number, Cached>()
  #traced = new Set<number>()
  #scan = 0

  constructor(procRoot = '/proc') {
    this.#root = procRoot
    this.#pageKb = pageSizeKb(this.#readText(`${procRoot}/self/statm`), this.#readText(`${procRoot}/self/status`))
  }

  /**
   * Whether the last scan saw a process come or go, or reread them all: when
   * not, the selection of traced processes cannot have changed.
   */
  changed = true

  /** Every process; those that vanish mid-read are skipped. */
  scan(): ProcInfo[] {
    const n = ++this.#scan
    const full = n % FULL_EVERY === 1
    const out: ProcInfo[] = []
    let changed = full
    for (const name of readdirSync(this.#root)) {
      const c = name.charCodeAt(0)
      if (c < 48 || c > 57) continue
      const pid = Number(name)
      const old = this.#cache.get(pid)
      if (!old) changed = true
      const p = !old || full || this.#traced.has(pid) ? this.#read(pid, old) : old
      if (!p) continue
      p.seenAt = n
      out.push(p)
    }
    for (const [pid, p] of this.#cache) {
      if (p.seenAt !== n) {
        this.#cache.delete(pid)
        changed = true
      }
    }
    this.changed = changed
    return out
  }

  /**
   * The processes about to be written, read fresh if this scan skipped them;
   * remembered as traced, so the next scans read them every time.
   */
  fresh(picked: ProcInfo[]): ProcInfo[] {
    this.#traced = new Set(picked.map(p => p.pid))
    const out: ProcInfo[] = []
    for (const p of picked) {
      const c = this.#cache.get(p.pid)
      const f = c && c.readAt === this.#scan ? c : this.#read(p.pid, c)
      if (f) out.push(f)
    }
    return out
  }

  #read(pid: number, old: Cached | undefined): Cached | undefined {
    const stat = this.#readText(`${this.#root}/${pid}/stat`)
    if (stat === undefined) return undefined // exited between readdir and read
    // comm may hold spaces and parentheses: it runs to the last ')'.
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    if (open < 0 || close < open) return undefined
    const comm = stat.slice(open + 1, close)
    const f = stat.slice(close + 2).split(' ')
    // fields after comm: state(0) ppid(1) … starttime(19) vsize(20) rss(21)
    const startTicks = Number(f[19])
    const same = old && old.startTicks === startTicks
    const command = same ? old.command : this.#cmdline(pid) || `[${comm}]`
    const p: Cached = {
      pid,
      ppid: Number(f[1]),
      comm,
      rssKb: Number(f[21]) * this.#pageKb,
      vszKb: Math.round(Number(f[20]) / 1024),
      command,
      startTicks,
      readAt: this.#scan,
      seenAt: this.#scan,
    }
    this.#cache.set(pid, p)
    return p
  }

  #cmdline(pid: number): string {
    // What the trace keeps of a command line is bounded (MAX_COMMAND characters, at most 4 bytes each): a 1 MB one is not read whole.
    const raw = this.#readBytes(`${this.#root}/${pid}/cmdline`, 4 * MAX_COMMAND)
    if (!raw) return ''
    let end = raw.length
    while (end > 0 && raw[end - 1] === 0) end--
    return raw.toString('utf8', 0, end).replace(/\u0000/g, ' ')
  }

  #readText(path: string): string | undefined {
    return this.#readBytes(path)?.toString('latin1')
  }

  /** A whole small file into the shared buffer (a copy only when it is bigger). */
  #readBytes(path: string, max = Infinity): Buffer | undefined {
    let fd: number
    try {
      fd = openSync(path, 'r')
    } catch {
      return undefined
    }
    try {
      let len = 0
      let buf = this.#buf
      while (len < max) {
        if (len === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2)
          buf.copy(bigger, 0, 0, len)
          buf = bigger
        }
        const n = readSync(fd, buf, len, Math.min(buf.length, max) - len, null)
        if (n === 0) break
        len += n
      }
      return buf.subarray(0, Math.min(len, max))
    } catch {
      return undefined
    } finally {
      closeSync(fd)
    }
  }
}

/** Page size in KiB, from our own RSS as pages (statm) and as kB (status). */
function pageSizeKb(statm: string | undefined, status: string | undefined): number {
  const pages = Number(statm?.split(' ')[1])
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status ?? '')?.[1])
  const ratio = kb / pages
  for (const size of [4, 16, 64]) if (Math.abs(ratio - size) / size < 0.2) return size
  return 4
}
