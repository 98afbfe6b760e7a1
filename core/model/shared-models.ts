/**
 * The loaded models of a trace's listings, each kept once. The models change
 * rarely: a list equal to the previous one is that list, so a day of samples
 * holds a handful of lists, not 17,280; and a model listed again (in a list
 * that changed around it) is the object kept the first time, so a busy
 * host's thousands of listings hold a few dozen models, each once. They are
 * only ever read. Pure.
 */
import type { LoadedModel } from '../../schemas/index.js'

/** Models remembered for sharing, at most (a damaged log may list endless different ones). */
const MODELS_KEPT = 4096

export class SharedModels {
  /** The models kept so far, by everything kept of them. */
  readonly #models = new Map<string, LoadedModel>()

  /** `models` as kept, given the list kept for the listing before (if any). */
  share(models: LoadedModel[], prev: LoadedModel[] | undefined): LoadedModel[] {
    if (prev && prev.length === models.length && prev.every((m, i) => sameModel(m, models[i] as LoadedModel))) return prev
    return models.map((m, i) => {
      // Most are in the list before, near the same place. While every model kept is in the map, the one there
      // holding what this one holds is the one the map would give for its key: no key need be made.
      if (prev && this.#models.size < MODELS_KEPT) {
        const same = nearSame(prev, m, i)
        if (same) return same
      }
      const key = modelKey(m)
      const known = this.#models.get(key)
      if (known) return known
      const keep: LoadedModel = { source: m.source, name: m.name, sizeBytes: m.sizeBytes }
      if (m.sizeVramBytes !== undefined) keep.sizeVramBytes = m.sizeVramBytes
      if (m.contextLength !== undefined) keep.contextLength = m.contextLength
      if (m.digest !== undefined) keep.digest = m.digest
      if (m.server !== undefined) keep.server = m.server
      if (this.#models.size < MODELS_KEPT) this.#models.set(key, keep)
      return keep
    })
  }
}

/** Everything a kept model holds, as one string; -0 and absent fields told apart from 0 and from text. */
function modelKey(m: LoadedModel): string {
  const part = (v: string | number | undefined) => (v === undefined ? '-' : typeof v === 'number' ? (Object.is(v, -0) ? 'n-0' : `n${v}`) : `s${v.length}:${v}`)
  return [m.source, m.name, m.sizeBytes, m.sizeVramBytes, m.contextLength, m.digest, m.server].map(part).join('|')
}

/** The model of `list` whose key is `m`'s (every field modelKey reads, the same value), looked for from `near` outwards. */
function nearSame(list: readonly LoadedModel[], m: LoadedModel, near: number): LoadedModel | undefined {
  const reach = Math.max(near + 1, list.length - near)
  for (let d = 0; d < reach; d++) {
    const a = list[near - d]
    if (a && sameKey(a, m)) return a
    const b = d > 0 ? list[near + d] : undefined
    if (b && sameKey(b, m)) return b
  }
  return undefined
}

/** Equal keys: Object.is tells -0 from 0 and a number from its text, as modelKey does. */
function sameKey(a: LoadedModel, b: LoadedModel): boolean {
  return (
    Object.is(a.name, b.name) &&
    Object.is(a.sizeBytes, b.sizeBytes) &&
    Object.is(a.digest, b.digest) &&
    Object.is(a.source, b.source) &&
    Object.is(a.sizeVramBytes, b.sizeVramBytes) &&
    Object.is(a.contextLength, b.contextLength) &&
    Object.is(a.server, b.server)
  )
}

function sameModel(a: LoadedModel, b: LoadedModel): boolean {
  return a.name === b.name && a.sizeBytes === b.sizeBytes && a.sizeVramBytes === b.sizeVramBytes && a.contextLength === b.contextLength && a.digest === b.digest && a.server === b.server
}
