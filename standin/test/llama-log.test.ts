/** The simulated runner's llama.cpp lines, as llama.cpp's printf would write them. */
import t from 'tap'
import { findModel } from '../catalogue.js'
import { simulatedLoad, simulatedLoadLines } from '../llama-log.js'

t.test("sizes print as C's %8.2f prints them: an exact half goes to the even hundredth", async t => {
  const m = findModel('llama3.2:3b')
  if (!m) throw new Error('llama3.2:3b is in the catalogue')
  // A vocabulary of 32768 logits in f32 is 0.125 MiB exactly, which glibc prints as 0.12; 3 × 0.125 = 0.375 as 0.38.
  for (const [seqs, printed] of [
    [1, '    0.12'],
    [3, '    0.38'],
  ] as const) {
    const load = simulatedLoad({ ...m, shape: { ...m.shape, vocab: 32_768 } }, 4096, seqs)
    t.equal(simulatedLoadLines(load).context[0], `llama_context:  CUDA_Host  output buffer size = ${printed} MiB`)
  }
})

t.test('the lines of a load: layers, then buffers, in llama.cpp order and layout', async t => {
  const m = findModel('qwen2.5-coder:7b')
  if (!m) throw new Error('qwen2.5-coder:7b is in the catalogue')
  const { load, context } = simulatedLoadLines(simulatedLoad(m, 8192, 1))
  const kvMiB = (m.kvBytesPerToken * 8192) / 2 ** 20
  t.same(load.slice(0, 3), ['load_tensors: offloading 28 repeating layers to GPU', 'load_tensors: offloading output layer to GPU', 'load_tensors: offloaded 29/29 layers to GPU'])
  t.equal(context[1], `llama_kv_cache:      CUDA0 KV buffer size = ${kvMiB.toFixed(2).padStart(8)} MiB`)
  t.equal(context[2], `llama_kv_cache: size = ${kvMiB.toFixed(2).padStart(7)} MiB (  8192 cells,  28 layers,  1/1 seqs), K (f16): ${(kvMiB / 2).toFixed(2).padStart(7)} MiB, V (f16): ${(kvMiB / 2).toFixed(2).padStart(7)} MiB`)
  t.match(context[3], /^sched_reserve: {6}CUDA0 compute buffer size = +\d+\.\d\d MiB$/)
})
