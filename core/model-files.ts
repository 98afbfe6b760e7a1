/**
 * A model as Ollama stores it: the models folders, a name's manifest and
 * weights blob, and the facts `plan.ts` needs from its GGUF header. The one
 * file of the core that reads files.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { gguf } from '@huggingface/gguf'
import type { ModelFacts } from './plan.js'
import { oneLine } from './safe-text.js'

/** Where Ollama keeps models: $OLLAMA_MODELS, the user's, and the Linux service's. */
export function modelDirs(env = process.env): string[] {
  return [...new Set([env.OLLAMA_MODELS, join(homedir(), '.ollama', 'models'), '/usr/share/ollama/.ollama/models'].filter((d): d is string => !!d))]
}

/** A model's weights blob and size, found through its manifest as Ollama lays them out. */
export function findModel(dirs: string[], name: string): { blob: string; sizeBytes: number } | undefined {
  const [path, tag = 'latest'] = splitTag(name)
  const parts = path.split('/')
  const [host, ns, model] = parts.length === 1 ? ['registry.ollama.ai', 'library', parts[0]] : parts.length === 2 ? ['registry.ollama.ai', parts[0], parts[1]] : [parts[0], parts[1], parts.slice(2).join('/')]
  for (const dir of dirs) {
    let manifest: { layers?: { mediaType?: string; digest?: string; size?: number }[] }
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'manifests', host as string, ns as string, model as string, tag), 'utf8'))
    } catch {
      continue
    }
    const layer = manifest.layers?.find(l => l.mediaType === 'application/vnd.ollama.image.model')
    if (layer?.digest && typeof layer.size === 'number') return { blob: join(dir, 'blobs', layer.digest.replace(':', '-')), sizeBytes: layer.size }
  }
  return undefined
}

function splitTag(name: string): [string, string | undefined] {
  const slash = name.lastIndexOf('/')
  const colon = name.lastIndexOf(':')
  return colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, undefined]
}

/** The facts `plan` needs from a GGUF header, or what is missing. */
export async function readFacts(file: string): Promise<ModelFacts | string> {
  let md: Record<string, unknown>
  try {
    md = (await gguf(file, { allowLocalFile: true })).metadata as unknown as Record<string, unknown>
  } catch (e) {
    return `not a GGUF file this reader knows (${(e as Error).message})`
  }
  const arch = md['general.architecture']
  if (typeof arch !== 'string') return 'no general.architecture'
  const num = (k: string) => (typeof md[`${arch}.${k}`] === 'number' ? (md[`${arch}.${k}`] as number) : undefined)
  const blocks = num('block_count')
  const embedding = num('embedding_length')
  const heads = num('attention.head_count')
  const ctx = num('context_length')
  // The name is the file's: printed, it must not carry a terminal escape.
  const shown = oneLine(arch).slice(0, 64)
  if (blocks === undefined || embedding === undefined || heads === undefined || ctx === undefined) return `the ${shown} metadata lacks block_count, embedding_length, attention.head_count or context_length`
  const kvHeads = num('attention.head_count_kv') ?? heads
  const head = Math.round(embedding / heads)
  const vocab = num('vocab_size')
  return { arch: shown, blocks, trainedContext: ctx, embedding, heads, kvHeads, keyLength: num('attention.key_length') ?? head, valueLength: num('attention.value_length') ?? head, ...(vocab !== undefined ? { vocab } : {}) }
}
