import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { planSchema, type PlanRecord } from '../../schemas/index.js'
import { computeBytes, kvBytesPerSlot, type ModelFacts, plan } from '../../core/plan.js'
import { type GgufValue, modelMetadata, type ModelShape, writeGguf } from '../../standin/gguf-writer.js'
import { factsFromMetadata } from '../../core/model-facts.js'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { Writable } from 'node:stream'
import { runPlan } from '../plan-command.js'
import { parseSvg } from '../../render/test/xml.js'

/** `memtrace plan ARGS --json`, through the command's own code in this process: the same record, without starting Node for each. */
async function planJson(args: string[]): Promise<PlanRecord> {
  let text = ''
  const out = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk)
      done()
    },
  })
  const code = await runPlan([...args, '--json'], out)
  if (code !== 0) throw new Error(`plan ${args.join(' ')} exited ${code}`)
  return JSON.parse(text) as PlanRecord
}

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

t.test("compute is llama.cpp's largest phase: the logits with flash attention on, one slot's scores without, the same for every slot count", async t => {
  const tokens = 512
  // With flash attention on, the logits of every token of the batch outweigh the masks and the feed-forward.
  const logits = (152064 + 3 * 3584) * tokens * 4
  t.equal(computeBytes(FACTS, 32768, 1, true), logits)
  t.equal(computeBytes(FACTS, 32768, 4, true), logits, 'four slots: the same graph, each slot a stream of its own')
  // Without, the f32 mask and the scores of the batch against one slot's 32768 cells, beside the block's activations.
  const scores = 32768 * tokens * 4 + 32768 * tokens * 28 * 4 + (5 * 3584 + 2 * 4 * 128) * tokens * 4
  t.equal(computeBytes(FACTS, 32768, 1, false), scores)
  t.equal(computeBytes(FACTS, 32768, 4, false), scores, 'not multiplied by the slots')
  t.ok(computeBytes(FACTS, 2048, 1, false) < computeBytes(FACTS, 32768, 1, false), 'the scores grow with the context')
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
  t.equal(p.host, 'measured')
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
    const p = await planJson([m.name, '--models', dir, '--num-ctx', '8192'])
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
  // weights 4,683,087,332 + 3 slots × 8192 × 57,344 + compute (152,064 + 3 × 3584) × 512 × 4 = 6,425,820,644 bytes
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

/** gemma3-12b as its GGUF header describes it: 48 blocks, 16 heads and 8 KV heads of 256, a window of 1024. */
const GEMMA3_12B: [string, GgufValue][] = [
  ...modelMetadata({ arch: 'gemma3', blocks: 48, contextLength: 131072, embedding: 3840, heads: 16, kvHeads: 8, keyLength: 256, valueLength: 256, vocab: 262144 }),
  ['gemma3.feed_forward_length', { type: 'u32', value: 15360 }],
  ['gemma3.attention.sliding_window', { type: 'u32', value: 1024 }],
]

t.test("a gemma3-12b header: its 40 sliding layers hold their window + batch, not the context, as llama.cpp's iSWA cache does", async t => {
  const dir = t.testdir({})
  pullInto(dir, 'gemma3:12b', writeGguf(GEMMA3_12B), 8_149_190_253)
  const r = memtrace(['plan', 'gemma3:12b', '--models', dir, '--num-ctx', '32768', '--json'])
  t.equal(r.code, 0, r.stderr)
  const p = JSON.parse(r.stdout) as PlanRecord
  // Every 6th layer is global (8 of 48, 32768 cells); the 40 others keep pad(1024 + 512, 256) = 1536; 8 KV heads × (256 + 256) × 2 bytes a cell.
  t.equal(p.kvBytesPerSlot, (8 * 32768 + 40 * 1536) * 8 * 512 * 2)
  t.ok(p.kvBytesPerSlot / GIB > 2.4 && p.kvBytesPerSlot / GIB < 2.5, `about 2.5 GiB, not 12 (${(p.kvBytesPerSlot / GIB).toFixed(2)} GiB)`)
  const small = JSON.parse(memtrace(['plan', 'gemma3:12b', '--models', dir, '--num-ctx', '1024', '--json']).stdout) as PlanRecord
  t.equal(small.kvBytesPerSlot, 48 * 1024 * 8 * 512 * 2, 'a context shorter than the window: every layer holds the context')
})

t.test('sliding layers as llama.cpp counts them: by architecture, by the pattern key, never for an architecture it runs without', async t => {
  const md = (extra: [string, unknown][], arch = 'gemma3') => {
    const base = Object.fromEntries(GEMMA3_12B.map(([k, v]) => [k.replace(/^gemma3\./, `${arch}.`), v.value]))
    base['general.architecture'] = arch
    return { ...base, ...Object.fromEntries(extra) }
  }
  t.match(factsFromMetadata(md([])), { slidingWindow: 1024, slidingLayers: 40 })
  t.match(factsFromMetadata(md([['gemma3.attention.sliding_window_pattern', 4]])), { slidingLayers: 36 }, 'a period in the header: 3 of each 4')
  const flags = Array.from({ length: 48 }, (_, i) => i % 2 === 0)
  t.match(factsFromMetadata(md([['gemma3.attention.sliding_window_pattern', flags]])), { slidingLayers: 24 }, 'one flag a layer')
  t.notOk((factsFromMetadata(md([['gemma3.attention.sliding_window', 0]])) as ModelFacts).slidingLayers, 'a window of 0: no sliding layer')
  t.notOk((factsFromMetadata(md([], 'qwen2')) as ModelFacts).slidingLayers, 'qwen2 names a window llama.cpp does not use')
  t.match(factsFromMetadata(md([], 'gemma2')), { slidingWindow: 1024, slidingLayers: 24 }, 'gemma2: every other layer')
  t.match(factsFromMetadata(md([['gemma3.attention.sliding_window', -5]])), /gemma3\.attention\.sliding_window is -5/)
  t.match(factsFromMetadata(md([['gemma3.attention.sliding_window_pattern', [true]]])), /sliding_window_pattern has 1 layers/)
})

t.test("without vocab_size, the tokenizer's token list gives the vocabulary, and the logits keep their size", async t => {
  const dir = t.testdir({})
  const { vocab: _, ...shape } = QWEN_7B
  const tokens = Array.from({ length: 152064 }, (_, i) => `t${i}`)
  pullInto(dir, 'sized:7b', writeGguf(modelMetadata(QWEN_7B)), 4683087332)
  pullInto(dir, 'listed:7b', writeGguf([...modelMetadata(shape), ['tokenizer.ggml.tokens', { type: 'array-string', value: tokens }]]), 4683087332)
  pullInto(dir, 'bare:7b', writeGguf(modelMetadata(shape)), 4683087332)
  const compute = async (name: string) => (await planJson([name, '--models', dir, '--num-ctx', '32768'])).computeBytes
  t.equal(await compute('listed:7b'), await compute('sized:7b'))
  t.equal(await compute('listed:7b'), (152064 + 3 * 3584) * 512 * 4, 'the logits of 152,064 tokens')
  t.ok((await compute('bare:7b')) < (await compute('sized:7b')) / 2, 'with neither, the logits are not counted (and the plan is lower)')
})

t.test("--memory and --os-reserve plan for another machine: seed 000's 16, 32 and 64 GiB hosts with 8 GiB for the OS", async t => {
  const dir = t.testdir({})
  const { CATALOGUE } = await import('../../standin/catalogue.js')
  const { pull } = await import('../../standin/store.js')
  pull(dir, CATALOGUE.find(m => m.name === 'qwen2.5-coder:7b') as (typeof CATALOGUE)[number])
  const at = (...args: string[]) => planJson(['qwen2.5-coder:7b', '--models', dir, '--num-ctx', '32768', ...args])
  const hosts = await Promise.all([16, 32, 64].map(g => at('--memory', `${g}GiB`, '--os-reserve', '8GiB')))
  t.same(hosts.map(p => p.maxParallel), [1, 11, 29], 'f16 KV cache: 1.75 GiB a slot')
  t.same(hosts.map(p => p.memTotalBytes), [16 * GIB, 32 * GIB, 64 * GIB])
  for (const p of hosts) t.match(p, { osReserveBytes: 8 * GIB, host: 'given' })
  t.notOk('vramTotalBytes' in (hosts[0] as object), "another machine: this one's GPUs are not counted")
  const q8 = (await Promise.all([16, 32, 64].map(g => at('--memory', `${g}GiB`, '--os-reserve', '8GiB', '--kv-type', 'q8_0')))).map(p => p.maxParallel)
  t.same(q8, [3, 20, 55], 'q8_0: 0.93 GiB a slot')
  t.equal((await at('--memory', '32GiB')).osReserveBytes, 8 * GIB, '8 GiB for the OS unless told otherwise')
  t.equal((await at('--memory', '32 GB', '--os-reserve', '8GB')).memTotalBytes, 32e9, 'GB is 10^9, as written')
  const text = memtrace(['plan', 'qwen2.5-coder:7b', '--models', dir, '--num-ctx', '32768', '--memory', '32GiB', '--os-reserve', '8GiB'])
  t.match(text.stdout, /OS and others \(given\)\s+8\.00 GiB/)
  t.match(text.stdout, /of 32\.00 GiB/)
  for (const bad of [['--memory', 'lots'], ['--memory', '0GiB'], ['--memory', '8GiB', '--os-reserve', '8GiB'], ['--os-reserve', '-1GiB']]) {
    const r = memtrace(['plan', 'qwen2.5-coder:7b', '--models', dir, ...bad])
    t.equal(r.code, 1, `${bad.join(' ')}: a usage error`)
    t.match(r.stderr, /--(memory|os-reserve)/)
  }
})
