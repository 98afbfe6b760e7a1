import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { otherLine } from '../core/parse/server-log/other-lines.js'
import type { ProcInfo } from './probe/proc-linux.js'

/** How long a traced process is remembered after its last sample: a kill is found at the next system sample. */
const REMEMBER_MS = 120_000

/** One OOM kill as the daemon records it (a `memtrace oom-kill` event's body). */
export interface OomKill {
  ts: string
  pid: number
  /** The process's name (its comm). */
  text: string
  /** Its RSS at its last sample, bytes. */
  bytes?: number
  /** The runner's model, where known. */
  model?: string
  /** How it was seen: the kernel's own line, or a counter that moved (`vmstat`, `cgroup`) while this traced process vanished. */
  source: 'kernel' | 'vmstat' | 'cgroup'
  message: string
}

/**
 * The kernel's OOM kills (Linux). Every system sample reads `/proc/vmstat`
 * `oom_kill` and the server's memory cgroup's `memory.events` `oom_kill`;
 * when either moves, the traced processes that vanished since are recorded.
 * Where the daemon may read the kernel log (`/dev/kmsg`, as root), its
 * `Killed process N (name) … anon-rss:…kB` line names the process itself.
 */
export class OomWatch {
  readonly #procRoot: string
  readonly #seen = new Map<number, { comm: string; rssKb: number; atMs: number; model?: string }>()
  #alive = new Set<number>()
  #kills: number | undefined
  #cgroupKills: number | undefined
  #kmsg: number | undefined

  constructor(procRoot = '/proc', kmsgPath = '/dev/kmsg') {
    this.#procRoot = procRoot
    try {
      this.#kmsg = openSync(kmsgPath, constants.O_RDONLY | constants.O_NONBLOCK)
      this.#kernelLines() // what the kernel said before the start is not this run's
    } catch {
      this.#kmsg = undefined
    }
    this.#kills = this.#vmstatKills()
  }

  /** Each process sample: what was traced, with its RSS and the runner's model. */
  note(picked: ProcInfo[], models: Map<number, string>, tickMs: number): void {
    this.#alive = new Set(picked.map(p => p.pid))
    for (const p of picked) {
      if (p.rssKb === 0) continue // exiting
      const model = models.get(p.pid)
      this.#seen.set(p.pid, { comm: p.comm, rssKb: p.rssKb, atMs: tickMs, ...(model ? { model } : {}) })
    }
    for (const [pid, s] of this.#seen) if (tickMs - s.atMs > REMEMBER_MS) this.#seen.delete(pid)
  }

  /**
   * Each system sample: the kills since the last one. `cgroupDir` is the server's memory cgroup (v2), where it has
   * one; `blockText` is the sample's own text, whose /proc/vmstat lines are read rather than the file again.
   */
  check(tickMs: number, cgroupDir?: string, blockText?: string): OomKill[] {
    const ts = new Date(tickMs).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const out: OomKill[] = []
    for (const k of this.#kernelLines()) {
      const s = this.#seen.get(k.pid)
      if (!s) continue // not a process memtrace traced
      out.push({ ts, pid: k.pid, text: s.comm, bytes: s.rssKb * 1024, ...(s.model ? { model: s.model } : {}), source: 'kernel', message: `the kernel killed it: ${k.line}` })
      this.#seen.delete(k.pid)
    }
    const inBlock = blockText === undefined ? undefined : /^oom_kill (\d+)$/m.exec(blockText)
    const kills = inBlock ? Number(inBlock[1]) : this.#vmstatKills()
    const cgKills = cgroupDir ? cgroupOomKills(cgroupDir) : undefined
    const moved = kills !== undefined && this.#kills !== undefined && kills > this.#kills ? 'vmstat' : cgKills !== undefined && this.#cgroupKills !== undefined && cgKills > this.#cgroupKills ? 'cgroup' : undefined
    if (moved && out.length === 0) {
      const n = moved === 'vmstat' ? (kills as number) - (this.#kills as number) : (cgKills as number) - (this.#cgroupKills as number)
      for (const [pid, s] of this.#seen) {
        if (this.#alive.has(pid)) continue
        const where = moved === 'vmstat' ? '/proc/vmstat oom_kill' : "the server's cgroup memory.events oom_kill"
        out.push({ ts, pid, text: s.comm, bytes: s.rssKb * 1024, ...(s.model ? { model: s.model } : {}), source: moved, message: `${where} rose by ${n} while this process vanished` })
        this.#seen.delete(pid)
      }
    }
    if (kills !== undefined) this.#kills = kills
    if (cgKills !== undefined) this.#cgroupKills = cgKills
    return out
  }

  close(): void {
    if (this.#kmsg !== undefined) closeSync(this.#kmsg)
    this.#kmsg = undefined
  }

  #vmstatKills(): number | undefined {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(this.#procRoot, 'vmstat'), 'latin1'))
      return m ? Number(m[1]) : undefined
    } catch {
      return undefined
    }
  }

  /** The kernel's new `Killed process` records, read without waiting. */
  #kernelLines(): { pid: number; line: string }[] {
    if (this.#kmsg === undefined) return []
    const out: { pid: number; line: string }[] = []
    const buf = Buffer.allocUnsafe(8192)
    for (let i = 0; i < 100_000; i++) {
      let n: number
      try {
        n = readSync(this.#kmsg, buf, 0, buf.length, null)
      } catch (e) {
        // EAGAIN: nothing more now; EPIPE: records were overwritten, read on.
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue
        break
      }
      if (n === 0) break
      for (const record of buf.subarray(0, n).toString('utf8').split('\n')) {
        // /dev/kmsg: `priority,seq,usec,flags;message`.
        const text = record.slice(record.indexOf(';') + 1)
        if (!text.includes('Killed process')) continue
        const e = otherLine(text)
        if (e && !('why' in e) && e.kind === 'kernel-oom-kill' && e.pid !== undefined) out.push({ pid: e.pid, line: text.slice(0, 300) })
      }
    }
    return out
  }
}

function cgroupOomKills(dir: string): number | undefined {
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(dir, 'memory.events'), 'latin1'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}
