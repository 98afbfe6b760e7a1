import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { planSchema, type PlanRecord } from '../../schemas/index.js'
import { computeBytes, kvBytesPerSlot, type ModelFacts, plan } from '../../core/plan.js'
import { modelMetadata, type ModelShape, writeGguf } from '../../standin/gguf-writer.js'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { parseSvg } from '../../render/test/xml.js'

const GIB = 1024 ** 3
/** qwen2.5-coder:7b as its GGUF header describes it. */
const QWEN_7B: ModelShape = { arch: 'qwen2', blocks: 28, contextLength: 32768, embedding: 3584, heads: 28, kvHeads: 4, keyLength: 128, valueLength: 128, vocab: 152064 }
const FACTS: ModelFacts = { arch: 'qwen2', blocks: 28, trainedContext: 32768, embedding: 3584, heads: 28, kvHeads: 4, keyLength: 128, valueLength: 128, vocab: 152064 }

/** Lays a model out as Ollama does: a blob named by its SHA-256 and a manifest naming it. */
function pullInto(dir: string, name: string, blob: Buffer, size: number): void {
  const hex = createHash('sha256').update(blob).digest('hex')
  mkdirSync(join(dir, 'blobs'), { recursive: true })
  writeFileSync(join(dir, 'blobs', `sha256-${hex}`), blob)
  const [model, tag] = name.split(':') as [string, string]
  const mdir = join(dir, 'manifests', 'registry.ollama.ai', 'library', model)
  mkdirSync(mdir, { recursive: true })
  writeFileSync(join(mdir, tag), JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size }] }))
}

t.test("the f16 KV cache of qwen2.5-coder:7b at 32k is 1.75 GiB a slot, as seed 000's formula gives", async t => {
  // 28 blocks × 32768 tokens × 4 KV heads × (128 + 128) × 2 bytes
  t.equal(kvBytesPerSlot(FACTS, 32768, 'f16'), 28 * 32768 * 4 * 256 * 2)
  t.equal(kvBytesPerSlot(FACTS, 32768, 'f16') / GIB, 1.75)
  t.equal(kvBytesPerSlot(FACTS, 32768, 'q8_0'), Math.round(28 * 32768 * 4 * 256 * (34 / 32)))
  t.equal(kvBytesPerSlot(FACTS, 32768, 'q4_0'), Math.round(28 * 32768 * 4 * 256 * (18 / 32)))
})

t.test('compute: logits and activations of a 512-token batch; without flash attention, its scores against every cached token', async t => {
  const flash = 152064 * 512 * 4 + 4 * 512 * 3584 * 4
  t.equal(computeBytes(FACTS, 32768, 4, true), flash)
  t.equal(computeBytes(FACTS, 32768, 4, false), flash + 512 * 32768 * 4 * 28 * 4)
})

t.test("seed 000's host: a 32 GB Mac using 8 GiB holds 11 slots of qwen2.5-coder:7b at 32k by this plan", async t => {
  const host = { memTotalBytes: 32 * GIB, osReserveBytes: 8 * GIB }
  const p = plan('qwen2.5-coder:7b', FACTS, 4683087332, host, { numCtx: 32768, numParallel: 1, kvType: 'f16', flashAttention: true })
  const fixed = 4683087332 + computeBytes(FACTS, 32768, 1, true) + 8 * GIB
  t.equal(p.maxParallel, Math.floor((32 * GIB - fixed) / (1.75 * GIB)))
  t.equal(p.maxParallel, 11)
  t.equal(p.totalBytes, fixed + 1.75 * GIB)
  t.equal(p.maxContext, 32768, 'the trained context fits with one slot')
  const tight = plan('qwen2.5-coder:7b', FACTS, 4683087332, host, { numCtx: 32768, numParallel: 16, kvType: 'f16', flashAttention: true })
  t.equal(tight.maxContext, 16384, 'sixteen slots fit at 16k, not at 32k')
  const none = plan('qwen2.5-coder:7b', FACTS, 40 * GIB, host, { numCtx: 4096, numParallel: 1, kvType: 'f16', flashAttention: true })
  t.equal(none.maxParallel, 0)
  t.equal(none.maxContext, 0)
})

t.test('memtrace plan reads a pulled model through its manifest and this machine now', async t => {
  const dir = t.testdir({})
  pullInto(dir, 'qwen2.5-coder:7b', writeGguf(modelMetadata(QWEN_7B)), 4683087332)
  const r = memtrace(['plan', 'qwen2.5-coder:7b', '--models', dir, '--num-ctx', '32768', '--num-parallel', '2', '--json'])
  t.equal(r.code, 0, r.stderr)
  const p = JSON.parse(r.stdout) as PlanRecord
  const validate = new Ajv({ strict: false }).compile(planSchema)
  t.ok(validate(p), JSON.stringify(validate.errors))
  t.equal(p.weightsBytes, 4683087332, 'the manifest sizes the weights')
  t.equal(p.kvBytesPerSlot, 1.75 * GIB)
  t.equal(p.slots, 2)
  const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]) * 1024
  t.equal(p.memTotalBytes, memTotal, "this machine's memory")
  t.ok(p.osReserveBytes > 0 && p.osReserveBytes < memTotal, 'what it uses now, measured')
  t.equal(p.totalBytes, p.weightsBytes + 2 * p.kvBytesPerSlot + p.computeBytes + p.osReserveBytes)
  const at = (np: number) => p.weightsBytes + np * p.kvBytesPerSlot + p.computeBytes + p.osReserveBytes
  t.ok(p.maxParallel === 0 || at(p.maxParallel) <= memTotal, 'maxParallel slots fit')
  t.ok(at(p.maxParallel + 1) > memTotal, 'one more does not')
  const text = memtrace(['plan', 'qwen2.5-coder:7b', '--models', dir, '--num-ctx', '32768'])
  t.equal(text.code, 0)
  t.match(text.stdout, /KV cache\s+1 × 1\.75 GiB/)
  // Memory in use is read again by this run, so its slots are checked above, on the JSON run's own figures.
  t.match(text.stdout, /^The most slots that fit at 32768 context: NUM_PARALLEL=\d+\.$/m)
})

t.test('memtrace plan says what is wrong: no manifest, not GGUF, bad options', async t => {
  const dir = t.testdir({})
  const missing = memtrace(['plan', 'nope:1b', '--models', dir])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /no manifest for nope:1b/)
  pullInto(dir, 'junk:1b', Buffer.from('not a model\n'), 12)
  const junk = memtrace(['plan', 'junk:1b', '--models', dir])
  t.equal(junk.code, 2)
  t.match(junk.stderr, /junk:1b: not a GGUF file/)
  t.equal(memtrace(['plan', 'junk:1b', '--kv-type', 'q5']).code, 1)
  t.equal(memtrace(['plan', 'junk:1b', '--num-parallel', '0']).code, 1)
})

t.test("a GGUF's architecture name reaches the terminal without its escapes, in plan's text and its errors", async t => {
  const dir = t.testdir({})
  const evil = 'qwen2\u001b]0;owned\u0007\u001b[2J'
  pullInto(dir, 'evil:1b', writeGguf(modelMetadata({ ...QWEN_7B, arch: evil })), 4683087332)
  const r = memtrace(['plan', 'evil:1b', '--models', dir])
  t.equal(r.code, 0, r.stderr)
  // Without the figures plan needs, the name is in the error.
  pullInto(dir, 'bare:1b', writeGguf([['general.architecture', { type: 'string', value: evil }]]), 100)
  const bare = memtrace(['plan', 'bare:1b', '--models', dir])
  t.equal(bare.code, 2)
  t.match(bare.stderr, /the qwen2\uFFFD\]0;owned\uFFFD\uFFFD\[2J metadata lacks/)
  for (const out of [r.stdout, r.stderr, bare.stderr]) t.notOk(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(out), 'no control character printed')
})

t.test("the stand-in's pulled models carry their real GGUF metadata: plan reads them as it reads real ones", async t => {
  const dir = t.testdir({})
  const { CATALOGUE } = await import('../../standin/catalogue.js')
  const { pull } = await import('../../standin/store.js')
  for (const m of CATALOGUE) {
    pull(dir, m)
    const r = memtrace(['plan', m.name, '--models', dir, '--num-ctx', '8192', '--json'])
    t.equal(r.code, 0, r.stderr)
    const p = JSON.parse(r.stdout) as PlanRecord
    t.equal(p.weightsBytes, m.sizeBytes, `${m.name}: weights as the manifest sizes them`)
    t.equal(p.kvBytesPerSlot, m.kvBytesPerToken * 8192, `${m.name}: the KV cache the stand-in's runner allocates per slot`)
  }
  const qwen = CATALOGUE.find(m => m.name === 'qwen2.5-coder:7b')
  t.equal(qwen?.kvBytesPerToken, 28 * 4 * 256 * 2, 'qwen2.5-coder:7b: 28 blocks, 4 KV heads of 128 + 128, f16')
})

t.test('MODEL[:CTX:NP]: a tag with a colon stays in the name', async t => {
  const { parsePlanSpec } = await import('../../core/plan.js')
  t.same(parsePlanSpec('qwen2.5-coder:7b:32768:4'), { model: 'qwen2.5-coder:7b', numCtx: 32768, numParallel: 4 })
  t.same(parsePlanSpec('qwen2.5-coder:7b'), { model: 'qwen2.5-coder:7b', numCtx: 4096, numParallel: 1 })
  t.same(parsePlanSpec('hf.co/unsloth/Qwen3-30B-A3B-GGUF:Q4_K_M'), { model: 'hf.co/unsloth/Qwen3-30B-A3B-GGUF:Q4_K_M', numCtx: 4096, numParallel: 1 })
  t.equal(parsePlanSpec(''), undefined)
})

t.test('render --plan draws the level plan predicts for a runner, named in the legend', async t => {
  const dir = t.testdir({})
  const { CATALOGUE } = await import('../../standin/catalogue.js')
  const { pull } = await import('../../standin/store.js')
  pull(dir, CATALOGUE.find(m => m.name === 'qwen2.5-coder:7b') as (typeof CATALOGUE)[number])
  const out = join(dir, 'chart.svg')
  const sample = join(ROOT, 'samples', 'seed-loops')
  const r = memtrace(['render', '--dir', sample, '-o', out, '--plan', 'qwen2.5-coder:7b:8192:3', '--tz', 'UTC', '-q'], { env: { OLLAMA_MODELS: dir } })
  t.equal(r.code, 0, r.stderr)
  const svg = readFileSync(out, 'utf8')
  // weights 4,683,087,332 + 3 slots × 8192 × 57,344 + compute 152,064 × 512 × 4 + 4 × 512 × 3584 × 4 = 6,433,160,676 bytes
  t.match(svg, /plan: qwen2\.5-coder:7b at 8192 × 3 slots, 6\.0 GiB/)
  const doc = parseSvg(svg)
  const line = doc.querySelector('line.plan-line')
  t.ok(line, 'a dashed level on the RSS panel')
  t.equal(line?.getAttribute('stroke-dasharray'), '10 5')
  const panel = doc.querySelector('rect[data-panel="processes"]')
  t.ok(Number(line?.getAttribute('y1')) > Number(panel?.getAttribute('y')), 'inside the panel, not on its frame')
  const missing = memtrace(['render', '--dir', sample, '-o', join(dir, 'x.svg'), '--plan', 'nope:1b'], { env: { OLLAMA_MODELS: dir } })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--plan: no manifest for nope:1b/)
})
