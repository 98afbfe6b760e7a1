import { readFileSync, statSync } from 'node:fs'
import { userInfo } from 'node:os'
import { ollamaUrlFromEnv } from './config.js'
import { nameOf } from './models-access.js'

/** A process as the daemon scanned it: enough to walk the tree and read a command line. */
interface Proc {
  pid: number
  ppid: number
  command: string
  startTicks?: number
}

/** One `ollama serve` and where it answers. */
export interface ServerAddress {
  pid: number
  /** `http://127.0.0.1:11435`: what is asked. */
  url: string
  /** `127.0.0.1:11435`: what the trace records (never a command line). */
  address: string
  /** How it was known: its environment's OLLAMA_HOST, one on a launching command line, Ollama's default, or --ollama-url. */
  via: 'environ' | 'argv' | 'default' | 'option'
}

/** Ancestors looked at for `OLLAMA_HOST=…` on a command line (`sudo OLLAMA_HOST=… ollama serve`, `sh -c '…'`). */
const MAX_DEPTH = 4
const ARGV_HOST_RE = /(?:^|\s)OLLAMA_HOST=(\S+)/

/**
 * Where each Ollama server on the host answers, for a host that runs several
 * (one per GPU, one per user). A server's `OLLAMA_HOST` is in
 * `/proc/<pid>/environ`, which only its own user and root may read; else on
 * the command line that launched it; a readable environment without it means
 * Ollama's default. A server whose address cannot be known is said once, with
 * the user memtrace would need to be; where it is the only such server, it is
 * taken to be the one `--ollama-url` names.
 */
export class ServerAddresses {
  readonly #procRoot: string
  readonly #configured: string
  readonly #problem: (message: string) => void
  readonly #known = new Map<string, ServerAddress | undefined>()
  readonly #said = new Set<string>()

  constructor(procRoot: string, configuredUrl: string, problem: (message: string) => void) {
    this.#procRoot = procRoot
    this.#configured = configuredUrl
    this.#problem = problem
  }

  /** The servers among `all` (every process scanned) with their addresses; those whose address is unknown are left out. */
  resolve(servers: Proc[], all: Proc[]): ServerAddress[] {
    const byPid = new Map(all.map(p => [p.pid, p]))
    const out: ServerAddress[] = []
    const unknown: Proc[] = []
    for (const s of servers) {
      const key = `${s.pid}:${s.startTicks ?? s.command}`
      if (!this.#known.has(key)) this.#known.set(key, this.#find(s, byPid))
      const a = this.#known.get(key)
      if (a) out.push(a)
      else unknown.push(s)
    }
    const configured = this.#configured
    const claimed = out.some(a => a.url === configured)
    for (const s of unknown) {
      const only = unknown.length === 1 && !claimed
      const key = `${s.pid}:${s.startTicks ?? s.command}`
      if (!this.#said.has(key)) {
        this.#said.add(key)
        this.#problem(
          `cannot read the environment of ollama serve (pid ${s.pid}, user ${this.#owner(s.pid)}; memtrace runs as ${me()}), so its address (OLLAMA_HOST) is unknown: ` +
            (only ? `it is taken to be the one --ollama-url names (${configured}). ` : 'its listings are not asked for, and its runners are grouped under it by the process tree only. ') +
            'sudo memtrace start would read it.',
        )
      }
      if (only) out.push({ pid: s.pid, url: configured, address: new URL(configured).host, via: 'option' })
    }
    return out
  }

  #find(s: Proc, byPid: Map<number, Proc>): ServerAddress | undefined {
    const env = this.#environ(s.pid)
    if (env) {
      const url = urlOf(env.OLLAMA_HOST)
      return url ? { pid: s.pid, url, address: new URL(url).host, via: env.OLLAMA_HOST?.trim() ? 'environ' : 'default' } : undefined
    }
    let cur = byPid.get(s.ppid)
    for (let d = 0; cur && d < MAX_DEPTH; d++, cur = byPid.get(cur.ppid)) {
      const m = ARGV_HOST_RE.exec(cur.command)
      if (!m) continue
      const url = urlOf((m[1] as string).replace(/^['"]|['"]$/g, ''))
      return url ? { pid: s.pid, url, address: new URL(url).host, via: 'argv' } : undefined
    }
    return undefined
  }

  /** The environment, or undefined where it may not be read (another user's process, memtrace not root). */
  #environ(pid: number): Record<string, string> | undefined {
    let text: string
    try {
      text = readFileSync(`${this.#procRoot}/${pid}/environ`, 'utf8')
    } catch {
      return undefined
    }
    const out: Record<string, string> = {}
    for (const kv of text.split('\u0000')) {
      const i = kv.indexOf('=')
      if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1)
    }
    return out
  }

  #owner(pid: number): string {
    try {
      return nameOf('/etc', 'passwd', statSync(`${this.#procRoot}/${pid}`).uid)
    } catch {
      return 'unknown'
    }
  }
}

/** OLLAMA_HOST as Ollama reads it (`:11435` is this host's port 11435); undefined when it is no address. */
function urlOf(host: string | undefined): string | undefined {
  const h = host?.trim()
  try {
    return ollamaUrlFromEnv({ OLLAMA_HOST: h?.startsWith(':') ? `127.0.0.1${h}` : h })
  } catch {
    return undefined
  }
}

function me(): string {
  try {
    return userInfo().username
  } catch {
    return String(process.getuid?.() ?? 'unknown')
  }
}
