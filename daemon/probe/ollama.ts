import { get as httpGet } from 'node:http'
import { get as httpsGet } from 'node:https'

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

/** Ollama's DisplayShortest: drop the default registry and the library namespace. */
export function displayName(host: string, ns: string, model: string, tag: string): string {
  if (host === 'registry.ollama.ai') return ns === 'library' ? `${model}:${tag}` : `${ns}/${model}:${tag}`
  return `${host}/${ns}/${model}:${tag}`
}
