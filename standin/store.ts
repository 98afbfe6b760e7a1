import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { CatalogueModel } from './catalogue.js'
import { modelMetadata, writeGguf } from './gguf-writer.js'
import { tinyModelGguf } from './tiny-model.js'

/** A model as it lies on disk, the way Ollama lays it out. */
export interface StoredModel {
  name: string
  /** SHA-256 of the manifest file: what /api/ps calls digest and ollama ps shows as ID. */
  manifestDigest: string
  /** `<models>/blobs/sha256-<hex>`: the runner's --model. */
  modelBlob: string
  sizeBytes: number
  details: { format: string; family: string; families: string[]; parameter_size: string; quantization_level: string }
  kvBytesPerToken: number
  trainedContext: number
  /** The small model file the llama.cpp runner runs in this model's place. */
  runnable?: string
}

/** The layer that points at the small loadable model: the stand-in's own, not Ollama's. */
const RUNNABLE_LAYER = 'application/vnd.memtrace.standin.runnable'

export function modelsDir(env = process.env): string {
  return env.OLLAMA_MODELS || join(homedir(), '.ollama', 'models')
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

function splitName(name: string): { model: string; tag: string } {
  const [model, tag = 'latest'] = name.split(':') as [string, string?]
  return { model, tag }
}

let tiny: { bytes: Buffer; hex: string } | undefined

/**
 * Writes a blob under its SHA-256, as Ollama names blobs: whole or not at all
 * (written beside, then renamed), so a pull cut short or one running at the
 * same time never leaves a short file. One already there with the right size is kept.
 */
function writeBlob(blobs: string, bytes: Buffer, hex = sha(bytes)): string {
  const path = join(blobs, `sha256-${hex}`)
  if (existsSync(path) && statSync(path).size === bytes.length) return hex
  const part = `${path}-partial-${process.pid}`
  writeFileSync(part, bytes)
  renameSync(part, path)
  return hex
}

/**
 * Writes a manifest, its config blob, a weights blob and, beside them, the
 * small model the llama.cpp runner runs. The weights blob is a GGUF header
 * with the model's real architecture metadata and no tensor data (a small
 * file: `memtrace plan` reads headers only, and no runner reads it); the
 * manifest carries the real size, which is what Ollama reports and what the
 * simulated runner allocates. For memtrace-tiny, the weights blob is the
 * small model itself.
 */
export function pull(dir: string, m: CatalogueModel): StoredModel {
  const blobs = join(dir, 'blobs')
  mkdirSync(blobs, { recursive: true })
  if (!tiny) {
    const bytes = tinyModelGguf()
    tiny = { bytes, hex: sha(bytes) }
  }
  const runHex = writeBlob(blobs, tiny.bytes, tiny.hex)
  const wHex = m.runnable ? runHex : writeBlob(blobs, writeGguf(modelMetadata(m.shape)))
  const config = Buffer.from(JSON.stringify({ model_format: 'gguf', model_family: m.family, model_families: [m.family], model_type: m.parameterSize, file_type: m.quantization, stand_in: { kv_bytes_per_token: m.kvBytesPerToken, trained_context: m.trainedContext, ...(m.runnable ? { runnable: true } : {}) } }))
  const cHex = sha(config)
  writeBlob(blobs, config, cHex)
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${cHex}`, size: config.length },
    layers: [
      { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${wHex}`, size: m.sizeBytes },
      ...(m.runnable ? [] : [{ mediaType: RUNNABLE_LAYER, digest: `sha256:${runHex}`, size: tiny.bytes.length }]),
    ],
  })
  const { model, tag } = splitName(m.name)
  const mdir = join(dir, 'manifests', 'registry.ollama.ai', 'library', model)
  mkdirSync(mdir, { recursive: true })
  writeFileSync(join(mdir, tag), manifest)
  return load(dir, m.name) as StoredModel
}

/** A model by name from the manifests, or undefined when it was never pulled. */
export function load(dir: string, name: string): StoredModel | undefined {
  const { model, tag } = splitName(name)
  let manifestText: string
  try {
    manifestText = readFileSync(join(dir, 'manifests', 'registry.ollama.ai', 'library', model, tag), 'utf8')
  } catch {
    return undefined
  }
  const manifest = JSON.parse(manifestText) as { config: { digest: string }; layers: { mediaType: string; digest: string; size: number }[] }
  const layer = manifest.layers.find(l => l.mediaType === 'application/vnd.ollama.image.model')
  if (!layer) return undefined
  const cfg = JSON.parse(readFileSync(join(dir, 'blobs', manifest.config.digest.replace(':', '-')), 'utf8')) as {
    model_family: string
    model_type: string
    file_type: string
    stand_in: { kv_bytes_per_token: number; trained_context: number; runnable?: boolean }
  }
  const runnable = manifest.layers.find(l => l.mediaType === RUNNABLE_LAYER) ?? (cfg.stand_in.runnable ? layer : undefined)
  return {
    name: `${model}:${tag}`,
    manifestDigest: sha(manifestText),
    modelBlob: join(dir, 'blobs', layer.digest.replace(':', '-')),
    sizeBytes: layer.size,
    details: { format: 'gguf', family: cfg.model_family, families: [cfg.model_family], parameter_size: cfg.model_type, quantization_level: cfg.file_type },
    kvBytesPerToken: cfg.stand_in.kv_bytes_per_token,
    trainedContext: cfg.stand_in.trained_context,
    ...(runnable ? { runnable: join(dir, 'blobs', runnable.digest.replace(':', '-')) } : {}),
  }
}

export function list(dir: string): StoredModel[] {
  const root = join(dir, 'manifests', 'registry.ollama.ai', 'library')
  const out: StoredModel[] = []
  let models: string[] = []
  try {
    models = readdirSync(root)
  } catch {
    return out
  }
  for (const model of models) {
    for (const tag of readdirSync(join(root, model))) {
      const m = load(dir, `${model}:${tag}`)
      if (m) out.push(m)
    }
  }
  return out
}
