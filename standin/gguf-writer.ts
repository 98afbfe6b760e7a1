/**
 * Writes GGUF files (version 3, little-endian): the header, metadata and
 * tensor infos, then the tensor data aligned to 32 bytes. Used by the tests
 * and the stand-in to lay out models whose metadata is known. Tensor data may
 * be left out, as `plan` reads headers only.
 */

/** GGUF metadata value types (the spec's gguf_metadata_value_type). */
export const GGUF = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const

export type GgufValue = { type: 'u32' | 'i32' | 'u64'; value: number } | { type: 'f32'; value: number } | { type: 'bool'; value: boolean } | { type: 'string'; value: string } | { type: 'array-string'; value: string[] } | { type: 'array-i32'; value: number[] } | { type: 'array-f32'; value: number[] }

/** ggml tensor types used here. */
export const GGML_TYPE = { f32: 0, f16: 1 } as const

/** general.file_type of a model whose weights are f16 (llama_ftype MOSTLY_F16). */
export const GGUF_FILE_TYPE_F16 = 1

export interface GgufTensor {
  name: string
  /** Dimensions, innermost first, as GGUF stores them. */
  shape: number[]
  type: keyof typeof GGML_TYPE
  /** The bytes; absent to write the info without data. */
  data?: Buffer
}

const ALIGN = 32

class Out {
  readonly parts: Buffer[] = []
  length = 0
  push(b: Buffer): void {
    this.parts.push(b)
    this.length += b.length
  }
  u32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v)
    this.push(b)
  }
  i32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeInt32LE(v)
    this.push(b)
  }
  u64(v: number): void {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(v))
    this.push(b)
  }
  f32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeFloatLE(v)
    this.push(b)
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.u64(b.length)
    this.push(b)
  }
  /** An array value: its element type, its length, then each element. */
  array<T>(type: number, values: T[], one: (v: T) => void): void {
    this.u32(GGUF.array)
    this.u32(type)
    this.u64(values.length)
    for (const v of values) one(v)
  }
}

export function writeGguf(metadata: [string, GgufValue][], tensors: GgufTensor[] = []): Buffer {
  const o = new Out()
  o.push(Buffer.from('GGUF', 'latin1'))
  o.u32(3)
  o.u64(tensors.length)
  o.u64(metadata.length)
  for (const [key, v] of metadata) {
    o.str(key)
    switch (v.type) {
      case 'u32':
        o.u32(GGUF.u32)
        o.u32(v.value)
        break
      case 'i32':
        o.u32(GGUF.i32)
        o.i32(v.value)
        break
      case 'u64':
        o.u32(GGUF.u64)
        o.u64(v.value)
        break
      case 'f32':
        o.u32(GGUF.f32)
        o.f32(v.value)
        break
      case 'bool':
        o.u32(GGUF.bool)
        o.push(Buffer.from([v.value ? 1 : 0]))
        break
      case 'string':
        o.u32(GGUF.string)
        o.str(v.value)
        break
      case 'array-string':
        o.array(GGUF.string, v.value, x => o.str(x))
        break
      case 'array-i32':
        o.array(GGUF.i32, v.value, x => o.i32(x))
        break
      case 'array-f32':
        o.array(GGUF.f32, v.value, x => o.f32(x))
        break
    }
  }
  let offset = 0
  const withData = tensors.filter(t => t.data)
  for (const t of tensors) {
    o.str(t.name)
    o.u32(t.shape.length)
    for (const d of t.shape) o.u64(d)
    o.u32(GGML_TYPE[t.type])
    o.u64(offset)
    if (t.data) offset += Math.ceil(t.data.length / ALIGN) * ALIGN
  }
  if (withData.length > 0) {
    o.push(Buffer.alloc((ALIGN - (o.length % ALIGN)) % ALIGN))
    for (const t of withData) {
      const d = t.data as Buffer
      o.push(d)
      o.push(Buffer.alloc((ALIGN - (d.length % ALIGN)) % ALIGN))
    }
  }
  return Buffer.concat(o.parts)
}

/** The metadata of a llama-style model: what `plan` reads. */
export interface ModelShape {
  arch: string
  blocks: number
  contextLength: number
  embedding: number
  heads: number
  kvHeads: number
  /** Per head; defaults to embedding / heads. */
  keyLength?: number
  valueLength?: number
  vocab?: number
  name?: string
}

export function modelMetadata(m: ModelShape): [string, GgufValue][] {
  const a = m.arch
  const md: [string, GgufValue][] = [
    ['general.architecture', { type: 'string', value: a }],
    ['general.name', { type: 'string', value: m.name ?? a }],
    [`${a}.block_count`, { type: 'u32', value: m.blocks }],
    [`${a}.context_length`, { type: 'u32', value: m.contextLength }],
    [`${a}.embedding_length`, { type: 'u32', value: m.embedding }],
    [`${a}.attention.head_count`, { type: 'u32', value: m.heads }],
    [`${a}.attention.head_count_kv`, { type: 'u32', value: m.kvHeads }],
  ]
  if (m.keyLength !== undefined) md.push([`${a}.attention.key_length`, { type: 'u32', value: m.keyLength }])
  if (m.valueLength !== undefined) md.push([`${a}.attention.value_length`, { type: 'u32', value: m.valueLength }])
  if (m.vocab !== undefined) md.push([`${a}.vocab_size`, { type: 'u32', value: m.vocab }])
  return md
}
