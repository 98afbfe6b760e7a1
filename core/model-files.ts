/**
 * A model as Ollama stores it: the models folders, a name's manifest and
 * weights blob, and the facts `plan.ts` needs from its GGUF header. The one
 * file of the core that reads model files, and only through
 * `bounded-file.ts`: regular files only, never a blocking open, never more
 * than a manifest or a header can hold.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { gguf } from '@huggingface/gguf'
import { CappedFile, FileRefused, type OpenOptions, readCapped } from './bounded-file.js'
import { InputError } from './errors.js'
import { factsFromMetadata } from './model-facts.js'
import type { ModelFacts } from './plan.js'
import { oneLine } from './safe-text.js'

/** The most a manifest may hold: Ollama's are a few hundred bytes, a layer per file of the model. */
export const MANIFEST_MAX_BYTES = 1024 ** 2
/**
 * The most of a GGUF file read for its header: the metadata and tensor
 * infos, which hold the tokenizer (a 262,144-token vocabulary is about
 * 10 MB). @huggingface/gguf stops at 50 MB itself.
 */
export const GGUF_HEADER_MAX_BYTES = 50_000_000

/** A manifest or blob that is there but cannot be used: exit 2, saying which file and why. */
export class ModelFileError extends InputError {}

/** Where Ollama keeps models: $OLLAMA_MODELS, the user's, and the Linux service's. */
export function modelDirs(env = process.env): string[] {
  return [...new Set([env.OLLAMA_MODELS, join(homedir(), '.ollama', 'models'), '/usr/share/ollama/.ollama/models'].filter((d): d is string => !!d))]
}

const missing = (e: unknown) => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')

/**
 * The manifest at `path`, or undefined when there is none. One that is not a
 * regular file, is larger than a manifest can be, or cannot be read is a
 * ModelFileError; so is a model layer whose digest or size is impossible.
 */
export function readManifest(path: string, o: OpenOptions = {}): { digest: string; sizeBytes: number } | 'no model layer' | undefined {
  let text: string
  try {
    text = readCapped(path, MANIFEST_MAX_BYTES, 'a manifest', o).toString('utf8')
  } catch (e) {
    if (missing(e)) return undefined
    if (e instanceof FileRefused) throw new ModelFileError(oneLine(e.message))
    throw new ModelFileError(`cannot read ${oneLine(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  let manifest: { layers?: { mediaType?: unknown; digest?: unknown; size?: unknown }[] }
  try {
    manifest = JSON.parse(text)
  } catch {
    throw new ModelFileError(`${oneLine(path)} is not a manifest (not JSON)`)
  }
  const layer = Array.isArray(manifest?.layers) ? manifest.layers.find(l => l?.mediaType === 'application/vnd.ollama.image.model') : undefined
  if (!layer) return 'no model layer'
  // The digest names a file in blobs/: only sha256:<64 hex> does, never a path of its own.
  if (typeof layer.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(layer.digest)) throw new ModelFileError(`${oneLine(path)}: the model layer's digest is not sha256:<64 hex digits>`)
  if (typeof layer.size !== 'number' || !Number.isSafeInteger(layer.size) || layer.size < 0) throw new ModelFileError(`${oneLine(path)}: the model layer's size is not a byte count`)
  return { digest: layer.digest, sizeBytes: layer.size }
}

/**
 * A model's weights blob and size, found through its manifest as Ollama lays
 * them out; undefined when no folder has one. A manifest that is there but
 * refused (a FIFO, a device, 3 GB) is a ModelFileError, not a silent skip.
 */
export function findModel(dirs: string[], name: string): { blob: string; sizeBytes: number } | undefined {
  const [path, tag = 'latest'] = splitTag(name)
  const parts = path.split('/')
  const [host, ns, model] = parts.length === 1 ? ['registry.ollama.ai', 'library', parts[0]] : parts.length === 2 ? ['registry.ollama.ai', parts[0], parts[1]] : [parts[0], parts[1], parts.slice(2).join('/')]
  for (const dir of dirs) {
    const found = readManifest(join(dir, 'manifests', host as string, ns as string, model as string, tag))
    if (found === undefined || found === 'no model layer') continue
    return { blob: join(dir, 'blobs', found.digest.replace(':', '-')), sizeBytes: found.sizeBytes }
  }
  return undefined
}

function splitTag(name: string): [string, string | undefined] {
  const slash = name.lastIndexOf('/')
  const colon = name.lastIndexOf(':')
  return colon > slash ? [name.slice(0, colon), name.slice(colon + 1)] : [name, undefined]
}

/**
 * The metadata of a GGUF file's header, read through one descriptor of a
 * regular file (never a FIFO or a device), at most GGUF_HEADER_MAX_BYTES of
 * it. @huggingface/gguf reads by ranges: its ranges are served from that
 * descriptor, as an HTTP server would serve them.
 */
export async function readGgufMetadata(file: string, o: OpenOptions = {}): Promise<Record<string, unknown>> {
  const f = CappedFile.open(file, GGUF_HEADER_MAX_BYTES, 'its GGUF header', o)
  try {
    const served = async (_url: unknown, init?: { headers?: Record<string, string> }): Promise<Response> => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(init?.headers?.Range ?? '')
      if (!m) throw new FileRefused(`${file}: a read without a range`)
      const [from, to] = [Number(m[1]), Number(m[2])]
      const body = await f.read(from, to - from + 1)
      return new Response(new Uint8Array(body), { status: 206, headers: { 'content-range': `bytes ${from}-${from + Math.max(0, body.length - 1)}/${f.size}` } })
    }
    return (await gguf('http://model.gguf/', { fetch: served as typeof fetch })).metadata as unknown as Record<string, unknown>
  } finally {
    f.close()
  }
}

/** The facts `plan` needs from a GGUF header, or what is missing, refused or impossible. */
export async function readFacts(file: string, o: OpenOptions = {}): Promise<ModelFacts | string> {
  let md: Record<string, unknown>
  try {
    md = await readGgufMetadata(file, o)
  } catch (e) {
    if (e instanceof FileRefused) return oneLine(e.message)
    if (missing(e)) return `${oneLine(file)} is missing (the manifest names a blob that is not there)`
    return `not a GGUF file this reader knows (${oneLine((e as Error).message)})`
  }
  return factsFromMetadata(md)
}
