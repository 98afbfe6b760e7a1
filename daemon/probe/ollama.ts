import { readdirSync, readFileSync } from 'node:fs'
import { get as httpGet } from 'node:http'
import { get as httpsGet } from 'node:https'
import { join } from 'node:path'

/** What GET /api/ps gave: the body to record, or why there is none. */
export type ApiPsResult = { ok: true; body: string; models: number } | { ok: false; error: string }

/**
 * GET /api/ps with a time limit; a body is accepted only if it has Ollama's
 * shape. node:http, not fetch: fetch's client costs the daemon some 15 MB.
 */
export function fetchApiPs(baseUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<ApiPsResult> {
  const url = new URL('/api/ps', baseUrl)
  const get = url.protocol === 'https:' ? httpsGet : httpGet
  return new Promise(resolve => {
    let settled = false
    const started = Date.now()
    const done = (r: ApiPsResult) => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(r)
      }
    }
    // The daemon is stopping: what was gathered is written now, with this source timed out.
    const onAbort = () => {
      req.destroy()
      done({ ok: false, error: `${url}: no answer within ${Date.now() - started} ms (stopped waiting: the daemon is stopping)` })
    }
    const req = get(url, { agent: false }, res => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size <= 4 * 1024 * 1024) chunks.push(c)
      })
      res.on('error', e => done({ ok: false, error: `${url}: ${e.message}` }))
      res.on('end', () => done(judge(url, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))))
    })
    const timer = setTimeout(() => {
      req.destroy()
      done({ ok: false, error: `${url}: no answer within ${timeoutMs} ms` })
    }, timeoutMs)
    req.on('error', e => done({ ok: false, error: `${url}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }))
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function judge(url: URL, status: number, text: string): ApiPsResult {
  if (status < 200 || status > 299) return { ok: false, error: `${url}: HTTP ${status}: ${text.slice(0, 200).replace(/\s+/g, ' ')}` }
  try {
    const body = JSON.parse(text) as { models?: unknown }
    if (!Array.isArray(body.models)) return { ok: false, error: `${url}: answer without a "models" list` }
    return { ok: true, body: JSON.stringify(body), models: body.models.length }
  } catch {
    return { ok: false, error: `${url}: answer is not JSON: ${text.slice(0, 120).replace(/\s+/g, ' ')}` }
  }
}

/**
 * Maps weights blobs (`sha256-<hex>`) to model names from the manifests under
 * `<models>/manifests/<host>/<namespace>/<model>/<tag>`, named as Ollama shows
 * them (`llama3.2:latest`, `user/model:tag`, `hf.co/user/repo:tag`).
 */
export class ManifestIndex {
  readonly #dirs: string[]
  #byBlob = new Map<string, string>()
  #builtAt = -Infinity

  constructor(modelDirs: string[]) {
    this.#dirs = modelDirs
  }

  /** The model name for a blob; an unknown blob rereads the manifests (at most every 5 s). */
  lookup(blob: string, nowMs = Date.now()): string | undefined {
    if (!this.#byBlob.has(blob) && nowMs - this.#builtAt > 5000) {
      this.#rebuild()
      this.#builtAt = nowMs
    }
    return this.#byBlob.get(blob)
  }

  #rebuild(): void {
    const map = new Map<string, string>()
    for (const root of this.#dirs) {
      const mdir = join(root, 'manifests')
      for (const [parts, file] of walk(mdir, 4)) {
        const [host, ns, model, tag] = parts as [string, string, string, string]
        let manifest: { layers?: { mediaType?: string; digest?: string }[] }
        try {
          manifest = JSON.parse(readFileSync(file, 'utf8'))
        } catch {
          continue
        }
        for (const layer of manifest.layers ?? []) {
          if (layer.mediaType !== 'application/vnd.ollama.image.model' || !layer.digest) continue
          const blob = layer.digest.replace(':', '-')
          const name = displayName(host, ns, model, tag)
          if (!map.has(blob)) map.set(blob, name)
        }
      }
    }
    this.#byBlob = map
  }
}

/** Ollama's DisplayShortest: drop the default registry and the library namespace. */
export function displayName(host: string, ns: string, model: string, tag: string): string {
  if (host === 'registry.ollama.ai') return ns === 'library' ? `${model}:${tag}` : `${ns}/${model}:${tag}`
  return `${host}/${ns}/${model}:${tag}`
}

/** Files exactly `depth` levels under `dir`, with their path parts. */
function* walk(dir: string, depth: number, parts: string[] = []): Generator<[string[], string]> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (depth === 1) {
      if (e.isFile()) yield [[...parts, e.name], p]
    } else if (e.isDirectory()) yield* walk(p, depth - 1, [...parts, e.name])
  }
}
