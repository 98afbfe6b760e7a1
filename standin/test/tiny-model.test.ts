import t from 'tap'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { tinyModelGguf, tinyVocabulary } from '../tiny-model.js'
import { CATALOGUE, TINY_MODEL_BYTES } from '../catalogue.js'
import { pull } from '../store.js'
import { memtrace } from '../../core/test/helpers.js'
import type { PlanRecord } from '../../schemas/index.js'

t.test('the small model: the same bytes on every machine, of the size the catalogue gives', async t => {
  const a = tinyModelGguf()
  t.equal(a.length, TINY_MODEL_BYTES)
  t.equal(createHash('sha256').update(tinyModelGguf()).digest('hex'), createHash('sha256').update(a).digest('hex'), 'written twice, the same digest')
  t.equal(a.subarray(0, 4).toString('latin1'), 'GGUF')
})

t.test('its vocabulary reads any text: every byte has a token, and a space is ▁', async t => {
  const v = tinyVocabulary()
  t.equal(v.tokens.length, v.scores.length)
  t.equal(v.tokens.length, v.types.length)
  const missing = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).filter(x => !v.tokens.includes(x))
  t.same(missing, [], 'all 256 byte tokens')
  t.ok(v.tokens.includes('▁'))
  t.same(v.tokens.slice(0, 3), ['<unk>', '<s>', '</s>'])
})

t.test('plan reads the small model as it reads any: 16 KiB of f16 KV cache a token', async t => {
  const dir = t.testdir({})
  const tiny = CATALOGUE.find(m => m.runnable)
  t.ok(tiny, 'the catalogue has it')
  const stored = pull(dir, tiny as (typeof CATALOGUE)[number])
  t.equal(stored.runnable, stored.modelBlob, 'its weights blob is the file the runner runs')
  const r = memtrace(['plan', 'memtrace-tiny', '--models', dir, '--num-ctx', '8192', '--num-parallel', '4', '--json'])
  t.equal(r.code, 0, r.stderr)
  const p = JSON.parse(r.stdout) as PlanRecord
  t.equal(p.weightsBytes, TINY_MODEL_BYTES)
  t.equal(p.kvBytesPerSlot, 8 * 8 * (64 + 64) * 2 * 8192, '8 blocks × 8 KV heads × (64 + 64) × 2 bytes × 8192')
  t.equal(p.slots, 4)
  const other = pull(dir, CATALOGUE[0] as (typeof CATALOGUE)[number])
  t.equal(other.runnable, join(dir, 'blobs', stored.modelBlob.split('/').at(-1) as string), 'other names run the same small file, written once')
})
