import { constants } from 'node:fs'
import { open, opendir } from 'node:fs/promises'
import { join } from 'node:path'
import { displayName } from './probe/ollama.js'

/** The most of one manifest that is read: Ollama's are a few KiB; a bigger file is not one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024
/** The most folder entries one pass looks at, all models folders together. */
export const MAX_MANIFEST_ENTRIES = 20_000

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants

/** What `lookup` knows now: the model, or that a pass over the manifests is under way. */
export interface Lookup {
  model?: string
  pending: boolean
}

/**
 * Maps weights blobs (`sha256-<hex>`) to model names from the manifests under
 * `<models>/manifests/<host>/<namespace>/<model>/<tag>`, named as Ollama shows
 * them (`llama3.2:latest`, `user/model:tag`, `hf.co/user/repo:tag`).
 *
 * The manifests are read off the sampling tick, one file at a time: each is
 * opened without following a link and without blocking (a FIFO never
 * hangs it), used only if it is a regular file of at most
 * MAX_MANIFEST_BYTES (checked on the open file), and a pass looks at no more
 * than MAX_MANIFEST_ENTRIES entries. A folder planted full of huge or
 * endless files costs a pass a bounded time and about 1 MiB.
 */
export class ManifestIndex {
  readonly #dirs: string[]
  #byBlob = new Map<string, string>()
  #builtAt = -Infinity
  #building: Promise<void> | undefined

  constructor(modelDirs: string[]) {
    this.#dirs = modelDirs
  }

  /** The model name for a blob; an unknown blob starts a pass over the manifests (at most every 5 s), whose result a later lookup sees. */
  lookup(blob: string, nowMs = Date.now()): Lookup {
    const model = this.#byBlob.get(blob)
    if (model !== undefined) return { model, pending: false }
    if (this.#building) return { pending: true }
    if (nowMs - this.#builtAt <= 5000) return { pending: false }
    this.#builtAt = nowMs
    this.#building = this.#rebuild().finally(() => (this.#building = undefined))
    return { pending: true }
  }

  /** Resolves when the pass under way, if any, is done. */
  async settled(): Promise<void> {
    await this.#building
  }

  async #rebuild(): Promise<void> {
    const map = new Map<string, string>()
    const budget = { entries: MAX_MANIFEST_ENTRIES }
    for (const root of this.#dirs) {
      for await (const [parts, file] of walk(join(root, 'manifests'), 4, budget)) {
        const [host, ns, model, tag] = parts as [string, string, string, string]
        const text = await readSmall(file)
        if (text === undefined) continue
        let manifest: { layers?: { mediaType?: string; digest?: string }[] }
        try {
          manifest = JSON.parse(text)
        } catch {
          continue
        }
        for (const layer of Array.isArray(manifest?.layers) ? manifest.layers : []) {
          if (layer?.mediaType !== 'application/vnd.ollama.image.model' || typeof layer.digest !== 'string') continue
          const blob = layer.digest.replace(':', '-')
          if (!map.has(blob)) map.set(blob, displayName(host, ns, model, tag))
        }
      }
    }
    this.#byBlob = map
  }
}

/** A regular file of at most MAX_MANIFEST_BYTES, read without following a link or blocking; undefined for anything else. */
async function readSmall(path: string): Promise<string | undefined> {
  let fh
  try {
    fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const st = await fh.stat()
    if (!st.isFile() || st.size > MAX_MANIFEST_BYTES) return undefined
    const buf = Buffer.alloc(st.size)
    const { bytesRead } = await fh.read(buf, 0, st.size, 0)
    return buf.subarray(0, bytesRead).toString('utf8')
  } catch {
    return undefined
  } finally {
    await fh.close()
  }
}

/** Files exactly `depth` levels under `dir`, with their path parts; links are not followed, and `budget.entries` bounds the entries looked at. */
async function* walk(dir: string, depth: number, budget: { entries: number }, parts: string[] = []): AsyncGenerator<[string[], string]> {
  let d
  try {
    d = await opendir(dir)
  } catch {
    return
  }
  try {
    for await (const e of d) {
      if (--budget.entries < 0) return
      const p = join(dir, e.name)
      if (depth === 1) {
        if (e.isFile()) yield [[...parts, e.name], p]
      } else if (e.isDirectory()) yield* walk(p, depth - 1, budget, [...parts, e.name])
    }
  } catch {
    // a folder removed while read: what was found stands
  }
}
