import t from 'tap'
import { digestOf, parseGpus, parseOsRelease, settingsFromLog } from '../run-context.js'

// Ollama's own lines: the `server config` line (envconfig, server/routes.go; the format the notes on Ollama's log give)
// and the scheduler's line with num_batch (server/sched.go), as in core/test/server-log.test.ts.
const CONFIG_Q8 = 'time=2025-05-14T09:12:00Z level=INFO source=routes.go:1 msg="server config" env="map[CUDA_VISIBLE_DEVICES: HTTPS_PROXY: OLLAMA_CONTEXT_LENGTH:8192 OLLAMA_FLASH_ATTENTION:true OLLAMA_KEEP_ALIVE:5m0s OLLAMA_KV_CACHE_TYPE:q8_0 OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_NUM_PARALLEL:4 OLLAMA_ORIGINS:[http://localhost] OLLAMA_SCHED_SPREAD:false]"'
const CONFIG_DEFAULTS = 'time=2025-05-14T09:12:00Z level=INFO source=routes.go:1332 msg="server config" env="map[OLLAMA_CONTEXT_LENGTH:4096 OLLAMA_FLASH_ATTENTION:false OLLAMA_KEEP_ALIVE:-1 OLLAMA_KV_CACHE_TYPE: OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_NUM_PARALLEL:2]"'
const FITS = 'time=2025-05-14T09:12:06Z level=INFO source=sched.go:1 msg="llama-server model fits alongside existing models" predicted="6.3 GiB" predicted_num_ctx=4096 num_batch=512 available="7.2 GiB" gpu_free="14.8 GiB" system_free="7.2 GiB" system_limited=false'

t.test('the settings a step ran with come from the server\'s own log', async t => {
  t.same(settingsFromLog([CONFIG_Q8, FITS].join('\n')), { kvCacheType: 'q8_0', flashAttention: true, batch: 512 })
  t.same(settingsFromLog(CONFIG_DEFAULTS), { kvCacheType: 'f16', flashAttention: false }, "an empty KV cache type is Ollama's default, f16; no batch said, none recorded")
  t.same(settingsFromLog(CONFIG_DEFAULTS.replace('OLLAMA_FLASH_ATTENTION:false', 'OLLAMA_FLASH_ATTENTION:')), { kvCacheType: 'f16' }, 'flash attention left to the server is left unsaid')
  t.same(settingsFromLog('time=x level=INFO msg="server config" env="map[OLLAMA_KV_CACHE_TYPE:q4_0'), {}, 'a line cut short says nothing')
  t.same(settingsFromLog(''), {})
})

t.test("nvidia-smi's CSV: each GPU's name and memory; anything else is no GPU", async t => {
  // `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`: one line a GPU, memory in MiB.
  t.same(parseGpus('NVIDIA GeForce RTX 4090, 24564\nNVIDIA H200, 143771\n'), [
    { name: 'NVIDIA GeForce RTX 4090', memTotalBytes: 24564 * 1024 ** 2 },
    { name: 'NVIDIA H200', memTotalBytes: 143771 * 1024 ** 2 },
  ])
  t.same(parseGpus('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.\n'), [])
  t.same(parseGpus('NVIDIA A100, [N/A]\n'), [])
})

t.test('os-release and /api/tags', async t => {
  t.equal(parseOsRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'), 'Debian GNU/Linux 12 (bookworm)')
  t.equal(parseOsRelease('ID=alpine\n'), undefined)
  const tags = { models: [{ name: 'qwen2.5-coder:7b', model: 'qwen2.5-coder:7b', digest: 'dae161e27b0e9d8c0a2ac2d07c3e1bcb3a7c3a1e0c6f1b0d7e6c2d9ac4b1e8f0' }, { name: 'llama3.2:latest', digest: 'a80c4f17acd5' }] }
  t.equal(digestOf(tags, 'qwen2.5-coder:7b'), tags.models[0]?.digest)
  t.equal(digestOf(tags, 'llama3.2'), 'a80c4f17acd5', 'a bare name is its :latest')
  t.equal(digestOf(tags, 'mistral'), undefined)
  t.equal(digestOf({ models: [{ name: 'x', digest: '../../etc' }] }, 'x'), undefined, 'a digest that is not one is not recorded')
  t.equal(digestOf(undefined, 'x'), undefined)
})

t.test('a result line with its settings, versions, host and load validates; so does one written before it carried them', async t => {
  const { Ajv } = await import('ajv')
  const { benchStepSchema } = await import('../../schemas/index.js')
  const validate = new Ajv({ strict: true }).compile(benchStepSchema)
  const old = { record: 'bench-step', experiment: 'num-parallel', step: 1, model: 'memtrace-tiny', outcome: 'ok', startedAt: '2026-12-03T20:00:00Z', endedAt: '2026-12-03T20:00:09Z', requests: 3, genTps: 60.1, genTpsSd: 1.2 }
  t.ok(validate(old), JSON.stringify(validate.errors))
  const line = {
    ...old,
    settings: { numParallel: 1, numCtx: 8192, kvCacheType: 'f16', flashAttention: false, batch: 512, modelDigest: 'sha256:' + 'ab'.repeat(32) },
    versions: { ollama: '0.11.4', memtrace: '0.1.0' },
    host: { cpuModel: 'AMD EPYC 7B13', cpus: 2, memTotalBytes: 8 * 1024 ** 3, gpus: [{ name: 'NVIDIA H200', memTotalBytes: 143771 * 1024 ** 2 }], os: 'Linux', osName: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-27-cloud-amd64' },
    otherCpuPctBefore: 3,
    otherCpuPct: 5,
    loadAvgBefore: 0.4,
    loadAvg: 1.1,
  }
  t.ok(validate(line), JSON.stringify(validate.errors))
  t.notOk(validate({ ...line, settings: { ...line.settings, numParallel: 0 } }), 'a NUM_PARALLEL of 0 is no setting')
  t.notOk(validate({ ...line, host: { ...line.host, ram: 1 } }), 'an unknown host key is refused')
})
