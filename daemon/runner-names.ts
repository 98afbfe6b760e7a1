import { readFileSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, dirname, isAbsolute, join } from 'node:path'
import type { Logger } from 'pino'
import { classify, modelFromArg } from '../core/model/roles.js'
import { ManifestIndex } from './manifests.js'
import { ownedModelsDir, unreadableFolder, unreadableMessage } from './models-access.js'
import type { ProcInfo } from './probe/proc-linux.js'

/**
 * Runners named by their model while tracing: a runner's `--model` blob is
 * looked up in the manifests of the models folders (beside its blob first),
 * and the name goes into the trace as a `runner` event, once.
 */
export class RunnerNames {
  readonly #log: Logger
  readonly #seen = new Map<string, { pid: number; blob?: string; model?: string; named: boolean; tries: number }>()
  /** The models folders the runners' --model blobs are in. */
  readonly #modelDirs = new Set<string>()
  #manifests: ManifestIndex | undefined
  #manifestKey = ''
  /** The server's PID, whose environment may name its models folder. */
  serverPid: number | undefined
  /** The traced servers' PIDs this sample: their children are their runners. */
  servers = new Set<number>()
  /** Where a models folder that cannot be read is said (once per folder). */
  readonly #problem: (message: string) => void
  readonly #said = new Set<string>()

  constructor(log: Logger, problem: (message: string) => void = () => {}) {
    this.#log = log
    this.#problem = problem
  }

  /** A runner seen for the first time is named where a manifest knows its blob. Returns its model, where known, and the event to record when it was just named. */
  note(p: ProcInfo, key: string): { model?: string; named?: { pid: number; model: string; blob: string } } {
    let seen = this.#seen.get(key)
    if (!seen) {
      const c = classify(p.comm, p.command)
      if (c.role !== 'runner' || !c.modelArg) return {}
      const m = modelFromArg(c.modelArg)
      seen = { pid: p.pid, named: !('blob' in m), tries: 0, ...('blob' in m ? { blob: m.blob } : { model: m.model }) }
      this.#seen.set(key, seen)
      // The runner's blob says where the models are, whatever the app set that memtrace cannot see (no OLLAMA_MODELS).
      // Only from a runner the server started, or a folder no other user could have made: any local user can start a process called runner.
      const blobs = dirname(c.modelArg)
      if ('blob' in m && isAbsolute(c.modelArg) && basename(blobs) === 'blobs' && this.#trusted(p, dirname(blobs))) this.#modelDirs.add(dirname(blobs))
    }
    if (seen.named || !seen.blob || seen.tries >= 3) return seen.model !== undefined ? { model: seen.model } : {}
    const { model, pending } = this.#manifestIndex().lookup(seen.blob)
    if (pending) return {}
    seen.tries++
    if (model) {
      seen.named = true
      seen.model = model
      this.#log.info({ pid: p.pid, model }, 'runner started')
      return { model, named: { pid: p.pid, model, blob: seen.blob } }
    }
    if (seen.tries === 3) {
      this.#log.warn({ pid: p.pid, blob: seen.blob }, 'no manifest names this runner blob')
      this.#sayUnreadable()
    }
    return {}
  }

  /** A runner's models folder is read when the runner is a traced server's child, or the folder is owned by root, this user or a server's user and no one else may write to it. */
  #trusted(p: ProcInfo, dir: string): boolean {
    if (this.servers.has(p.ppid)) return true
    const uids = new Set([0, process.geteuid?.() ?? 0])
    for (const pid of this.servers) {
      try {
        uids.add(statSync(`/proc/${pid}`).uid)
      } catch {
        // gone
      }
    }
    if (ownedModelsDir(dir, uids)) return true
    if (this.#said.has(dir) || this.#said.size > 1000) return false
    this.#said.add(dir)
    this.#log.warn({ pid: p.pid, dir }, "a runner's models folder is not read: the runner is no server's child, and the folder is another user's or open to all")
    return false
  }

  /**
   * A runner left unnamed because the folder its manifests are in cannot be
   * read (a service user's models at 0750): said once per folder, with the
   * user it needs, rather than left to the renderer's match by size. Only the
   * folders this server's runners and environment name are asked about: the
   * usual places guessed (another user's home) are not anyone's fault.
   */
  #sayUnreadable(): void {
    const env = this.serverPid ? serverEnv(this.serverPid) : {}
    const named = [...this.#modelDirs, env.OLLAMA_MODELS, env.HOME ? join(env.HOME, '.ollama', 'models') : undefined]
    for (const dir of named) {
      if (!dir || this.#said.has(dir)) continue
      const u = unreadableFolder(dir)
      if (!u) continue
      this.#said.add(dir)
      this.#problem(unreadableMessage(dir, u))
    }
  }

  /** Where the models are: beside the runners' blobs first, then the server's OLLAMA_MODELS, else the usual places. */
  #manifestIndex(): ManifestIndex {
    const dirs: string[] = [...this.#modelDirs]
    const env = this.serverPid ? serverEnv(this.serverPid) : {}
    if (env.OLLAMA_MODELS) dirs.push(env.OLLAMA_MODELS)
    if (process.env.OLLAMA_MODELS) dirs.push(process.env.OLLAMA_MODELS)
    if (env.HOME) dirs.push(join(env.HOME, '.ollama', 'models'))
    dirs.push(join(homedir(), '.ollama', 'models'), '/usr/share/ollama/.ollama/models', '/root/.ollama/models')
    const unique = [...new Set(dirs)]
    const key = unique.join('\u0000')
    if (!this.#manifests || key !== this.#manifestKey) {
      this.#manifests = new ManifestIndex(unique)
      this.#manifestKey = key
    }
    return this.#manifests
  }
}

/** The server's environment (Linux, same user or root); empty when unreadable. */
function serverEnv(pid: number): Record<string, string> {
  try {
    const out: Record<string, string> = {}
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\u0000')) {
      const i = kv.indexOf('=')
      if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1)
    }
    return out
  } catch {
    return {}
  }
}
