/**
 * What `memtrace plan` reads is whatever sits in a models folder: a FIFO, a
 * link to a device, a sparse file of gigabytes, a GGUF header with NaN or
 * absurd counts. Each is refused with a message naming the file or the key,
 * at once, and nothing is planned from it.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN } from '../../core/test/helpers.js'
import { factsFromMetadata } from '../../core/model-facts.js'
import { type GgufValue, modelMetadata, type ModelShape, writeGguf } from '../../standin/gguf-writer.js'

/** qwen2.5-coder:7b as its GGUF header describes it. */
const QWEN_7B: ModelShape = { arch: 'qwen2', blocks: 28, contextLength: 32768, embedding: 3584, heads: 28, kvHeads: 4, keyLength: 128, valueLength: 128, vocab: 152064 }

const layout = (dir: string, digest = 'a'.repeat(64)) => {
  const mdir = join(dir, 'manifests', 'registry.ollama.ai', 'library', 'x')
  mkdirSync(mdir, { recursive: true })
  mkdirSync(join(dir, 'blobs'), { recursive: true })
  return { manifest: join(mdir, '1b'), blob: join(dir, 'blobs', `sha256-${digest}`), json: (size = 4683087332, d = `sha256:${digest}`) => JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: d, size }] }) }
}

/** A header-only model laid out as Ollama does. */
function pulled(dir: string, md: [string, GgufValue][]): void {
  const blob = writeGguf(md)
  const l = layout(dir, createHash('sha256').update(blob).digest('hex'))
  writeFileSync(l.blob, blob)
  writeFileSync(l.manifest, l.json())
}

/**
 * `plan x:1b` on the folder; the time limit only keeps a run that hangs (as
 * on a FIFO it once did) from hanging the suite: such a run fails here.
 */
function plan(dir: string) {
  const r = spawnSync(process.execPath, [BIN, 'plan', 'x:1b', '--models', dir], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal }
}

const mkfifo = (path: string) => t.equal(spawnSync('mkfifo', [path]).status, 0, `mkfifo ${path}`)

t.test('a FIFO as the manifest or the blob is refused, not opened to wait for a writer', async t => {
  const dir = t.testdir({})
  const l = layout(dir)
  mkfifo(l.manifest)
  const man = plan(dir)
  t.equal(man.signal, null, 'it did not hang')
  t.equal(man.code, 2)
  t.match(man.stderr, /manifests\/registry\.ollama\.ai\/library\/x\/1b is a FIFO, not a regular file/)
  const other = t.testdir({})
  const b = layout(other)
  writeFileSync(b.manifest, b.json())
  mkfifo(b.blob)
  const blob = plan(other)
  t.equal(blob.signal, null, 'it did not hang')
  t.equal(blob.code, 2)
  t.match(blob.stderr, /x:1b: .*blobs\/sha256-a{64} is a FIFO, not a regular file/)
})

t.test('a manifest or blob linked to /dev/zero is refused before it is read', async t => {
  const dir = t.testdir({})
  const l = layout(dir)
  symlinkSync('/dev/zero', l.manifest)
  const man = plan(dir)
  t.equal(man.signal, null, 'it did not read /dev/zero until killed')
  t.equal(man.code, 2)
  t.match(man.stderr, /1b is a device, not a regular file/)
  const other = t.testdir({})
  const b = layout(other)
  writeFileSync(b.manifest, b.json())
  symlinkSync('/dev/zero', b.blob)
  const blob = plan(other)
  t.equal(blob.code, 2)
  t.match(blob.stderr, /sha256-a{64} is a device, not a regular file/)
})

t.test('a 3 GB sparse manifest is refused by its size, not read', async t => {
  const dir = t.testdir({})
  const l = layout(dir)
  writeFileSync(l.manifest, l.json())
  truncateSync(l.manifest, 3 * 1024 ** 3)
  const r = plan(dir)
  t.equal(r.code, 2)
  t.match(r.stderr, /1b holds 3\.0 GiB, more than the 1 MiB a manifest may hold/)
})

t.test("a manifest's digest names a blob, never a path; its size is a byte count", async t => {
  const dir = t.testdir({})
  const l = layout(dir)
  writeFileSync(l.manifest, l.json(100, 'sha256:../../../../etc/passwd'))
  const r = plan(dir)
  t.equal(r.code, 2)
  t.match(r.stderr, /the model layer's digest is not sha256:<64 hex digits>/)
  writeFileSync(l.manifest, l.json(-1))
  t.match(plan(dir).stderr, /the model layer's size is not a byte count/)
  writeFileSync(l.manifest, l.json(1e300))
  t.match(plan(dir).stderr, /the model layer's size is not a byte count/)
})

t.test('impossible GGUF metadata is an error naming the key, never a plan of NaN MiB', async t => {
  const cases: [string, (md: [string, GgufValue][]) => [string, GgufValue][], RegExp][] = [
    ['a NaN block count', md => md.map(([k, v]) => (k === 'qwen2.block_count' ? [k, { type: 'f32', value: Number.NaN }] : [k, v])), /impossible metadata: qwen2\.block_count is NaN/],
    ['a context of 2^32 − 1', md => md.map(([k, v]) => (k === 'qwen2.context_length' ? [k, { type: 'u32', value: 2 ** 32 - 1 }] : [k, v])), /impossible metadata: qwen2\.context_length is 4294967295, where a model has a whole number from 1 to 67108864/],
    ['zero attention heads', md => md.map(([k, v]) => (k === 'qwen2.attention.head_count' ? [k, { type: 'u32', value: 0 }] : [k, v])), /impossible metadata: qwen2\.attention\.head_count is 0/],
    ['zero KV heads', md => md.map(([k, v]) => (k === 'qwen2.attention.head_count_kv' ? [k, { type: 'u32', value: 0 }] : [k, v])), /impossible metadata: qwen2\.attention\.head_count_kv is 0/],
    ['a fractional embedding', md => md.map(([k, v]) => (k === 'qwen2.embedding_length' ? [k, { type: 'f32', value: 3584.5 }] : [k, v])), /impossible metadata: qwen2\.embedding_length is 3584\.5/],
    ['a string for a count', md => md.map(([k, v]) => (k === 'qwen2.block_count' ? [k, { type: 'string', value: 'many' }] : [k, v])), /impossible metadata: qwen2\.block_count is "many"/],
  ]
  for (const [what, edit, message] of cases) {
    const dir = t.testdir({})
    pulled(dir, edit(modelMetadata(QWEN_7B)))
    const r = plan(dir)
    t.equal(r.code, 2, `${what}: exit 2`)
    t.match(r.stderr, message, what)
    t.notMatch(r.stdout + r.stderr, /NaN MiB|e\+\d/, `${what}: no absurd figure printed`)
  }
})

t.test('per-layer head counts, as llama.cpp allows them, are summed by layer, not taken for the model', async t => {
  // A hybrid of four layers, two of them recurrent (0 KV heads): its KV cache is half that of four attention layers.
  const md = Object.fromEntries(modelMetadata({ ...QWEN_7B, blocks: 4 }).map(([k, v]) => [k, v.value])) as Record<string, unknown>
  const facts = factsFromMetadata({ ...md, 'qwen2.attention.head_count_kv': [4, 0, 4, 0] })
  t.not(typeof facts, 'string', String(facts))
  t.equal(typeof facts !== 'string' && facts.blocks * facts.kvHeads, 8, 'KV heads summed over the layers: 4 + 0 + 4 + 0')
  t.match(factsFromMetadata({ ...md, 'qwen2.attention.head_count_kv': [4, 4] }) as string, /qwen2\.attention\.head_count_kv has 2 layers, where qwen2\.block_count says 4/)
  t.match(factsFromMetadata({ ...md, 'qwen2.attention.head_count_kv': [0, 0, 0, 0] }) as string, /is 0 in every layer/)
  t.match(factsFromMetadata({ ...md, 'qwen2.context_length': 2n ** 64n - 1n }) as string, /qwen2\.context_length is 18446744073709551615/)
})

t.test('a GGUF header longer than 50 MB is refused where the reading stops, not held whole', async t => {
  const dir = t.testdir({})
  // Six tokens of 9.9 MB each (the reader's limit for one string is 10 MB): 59 MB of header before the counts.
  const tokens: [string, GgufValue] = ['tokenizer.ggml.tokens', { type: 'array-string', value: Array.from({ length: 6 }, () => 'x'.repeat(9_900_000)) }]
  const [arch, ...rest] = modelMetadata(QWEN_7B)
  pulled(dir, [arch as [string, GgufValue], tokens, ...rest])
  const r = plan(dir)
  t.equal(r.code, 2)
  t.match(r.stderr, /sha256-[0-9a-f]{64}: its GGUF header runs past the 48 MiB memtrace reads of it/)
})
