/** The calls the experiments make to an Ollama server, through its documented HTTP API. */

/** The server answered with an error status. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

export interface GenerateResult {
  ttftMs: number
  /** From sending the request to its last chunk. */
  e2eMs: number
  /** The gaps between successive streamed token chunks, after the first (inter-token latency). */
  itlMs: number[]
  evalCount: number
  genTps: number
  prefillTps: number
  loadMs: number
}

export interface GenerateOptions {
  numCtx: number
  seed: number
  temperature: number
  numPredict?: number
  keepAlive?: number | string
  timeoutMs: number
}

/**
 * One streaming `/api/generate`: the time to the first streamed token, and
 * the speeds from the last chunk's `eval_count`/`eval_duration` and
 * `prompt_eval_count`/`prompt_eval_duration` (nanoseconds).
 */
export async function generate(url: string, model: string, prompt: string, o: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now()
  const options: Record<string, number> = { num_ctx: o.numCtx, seed: o.seed, temperature: o.temperature }
  if (o.numPredict !== undefined) options.num_predict = o.numPredict
  try {
    return await stream(url, model, prompt, o, options, started)
  } catch (e) {
    if ((e as Error).name === 'TimeoutError') throw new Error(`no answer within --load-timeout (${o.timeoutMs < 1000 ? `${o.timeoutMs} ms` : `${Math.round(o.timeoutMs / 1000)} s`})`)
    if (!(e instanceof HttpError) && (e as Error).message === 'fetch failed') throw new Error(`no server answered at ${url} (${String((e as { cause?: { code?: string } }).cause?.code ?? 'connection failed')})`)
    throw e
  }
}

async function stream(url: string, model: string, prompt: string, o: GenerateOptions, options: Record<string, number>, started: number): Promise<GenerateResult> {
  const res = await fetch(`${url}/api/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt, stream: true, options, keep_alive: o.keepAlive ?? -1 }),
    signal: AbortSignal.timeout(o.timeoutMs),
  })
  if (!res.ok || !res.body) {
    const body = await res.text().catch(() => '')
    throw new HttpError(`HTTP ${res.status}${body ? `: ${errorText(body)}` : ''}`, res.status)
  }
  let ttft: number | undefined
  let prev: number | undefined
  const itl: number[] = []
  let last: Record<string, unknown> | undefined
  let rest = ''
  const decoder = new TextDecoder()
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    rest += decoder.decode(part, { stream: true })
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim()
      rest = rest.slice(nl + 1)
      if (!line) continue
      const msg = JSON.parse(line) as Record<string, unknown>
      if (typeof msg.error === 'string') throw new Error(msg.error)
      if (typeof msg.response === 'string' && msg.response !== '') {
        const now = performance.now()
        if (ttft === undefined) ttft = now - started
        else if (prev !== undefined) itl.push(now - prev)
        prev = now
      }
      if (msg.done === true) last = msg
    }
  }
  if (!last) throw new Error('the stream ended without its last chunk')
  const n = (k: string) => (typeof last?.[k] === 'number' ? (last[k] as number) : 0)
  const end = performance.now()
  return {
    ttftMs: ttft ?? end - started,
    e2eMs: end - started,
    itlMs: itl,
    evalCount: n('eval_count'),
    genTps: n('eval_duration') > 0 ? n('eval_count') / (n('eval_duration') / 1e9) : 0,
    prefillTps: n('prompt_eval_duration') > 0 ? n('prompt_eval_count') / (n('prompt_eval_duration') / 1e9) : 0,
    loadMs: n('load_duration') / 1e6,
  }
}

function errorText(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown }
    if (typeof j.error === 'string') return j.error
  } catch {
    // not JSON: the body as it came
  }
  return body.trim().slice(0, 300)
}

/** The models a server lists as loaded, or undefined when it does not answer. */
export async function loadedModels(url: string): Promise<string[] | undefined> {
  try {
    const r = await fetch(`${url}/api/ps`, { signal: AbortSignal.timeout(2000) })
    const j = (await r.json()) as { models?: { name?: string }[] }
    return (j.models ?? []).map(m => String(m.name))
  } catch {
    return undefined
  }
}
