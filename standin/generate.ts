/** A runner's generation as the server streams it: on llama.cpp, or the simulated runner's fixed pace. */
import { goTime } from './go-format.js'

/** A request's tokens and the time its prompt and its generation took (ms). */
export interface Generated {
  promptTokens: number
  promptMs: number
  words: string[]
  evalMs: number
}

/** Tokens generated when num_predict is not set: the small model never ends on its own. */
const DEFAULT_PREDICT = 128

/** Generates on a llama.cpp runner, passing each token on as it comes; the timings are llama.cpp's. */
export async function generateOn(port: number, prompt: string, opts: Record<string, unknown>, ctx: number, say: (w: string) => void): Promise<Generated> {
  const asked = Number(opts.num_predict ?? DEFAULT_PREDICT)
  const n = Math.min(ctx - 1, asked > 0 ? Math.floor(asked) : DEFAULT_PREDICT)
  const res = await fetch(`http://127.0.0.1:${port}/completion`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, n_predict: n, temperature: Number(opts.temperature ?? 0.8), ...(opts.seed !== undefined ? { seed: Number(opts.seed) } : {}) }),
  })
  if (!res.ok || !res.body) throw new Error(`llama runner: HTTP ${res.status}`)
  const words: string[] = []
  let timings: { prompt_n: number; prompt_ms: number; predicted_ms: number } | undefined
  let rest = ''
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  for (;;) {
    const { done: ended, value } = await reader.read()
    if (ended) break
    rest += value
    let nl: number
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = JSON.parse(rest.slice(0, nl)) as { content?: string; stop?: boolean; timings?: typeof timings; error?: string }
      rest = rest.slice(nl + 1)
      if (line.error) throw new Error(`llama runner: ${line.error}`)
      if (line.content !== undefined) {
        words.push(line.content)
        say(line.content)
      }
      if (line.stop) timings = line.timings
    }
  }
  if (!timings) throw new Error('llama runner process has terminated: the stream ended early')
  return { promptTokens: timings.prompt_n, promptMs: timings.prompt_ms, words, evalMs: timings.predicted_ms }
}

/** The simulated runner's generation: the prompt is read at a fixed pace, then each token takes a fixed time. */
export async function simulate(prompt: string, opts: Record<string, unknown>, say: (w: string) => void): Promise<Generated> {
  const promptTokens = Math.max(1, prompt.split(/\s+/).filter(Boolean).length)
  const n = Math.max(1, Math.min(256, Number(opts.num_predict ?? WORDS.length) || WORDS.length))
  const start = Date.now()
  await new Promise(ok => setTimeout(ok, promptTokens * PROMPT_MS_PER_TOKEN))
  const evalStart = Date.now()
  const words: string[] = []
  for (let i = 0; i < n; i++) {
    await new Promise(ok => setTimeout(ok, TOKEN_MS))
    const w = WORDS[i % WORDS.length] as string
    words.push(w)
    say(w)
  }
  return { promptTokens, promptMs: evalStart - start, words, evalMs: Date.now() - evalStart }
}

/** What the simulated runner "generates": not a model's words. */
const WORDS = ['This', ' is', ' the', ' memtrace', ' stand-in', ',', ' not', ' a', ' model', '.']
const TOKEN_MS = 30
const PROMPT_MS_PER_TOKEN = 1

export function chunk(chat: boolean, model: string, word: string) {
  const base = { model, created_at: goTime(Date.now()), done: false }
  return chat ? { ...base, message: { role: 'assistant', content: word } } : { ...base, response: word }
}

export function done(chat: boolean, model: string, all: string, reason: string) {
  const base = { model, created_at: goTime(Date.now()), done: true, done_reason: reason, total_duration: 1, load_duration: 1, eval_count: 0 }
  return chat ? { ...base, message: { role: 'assistant', content: all } } : { ...base, response: all }
}

