import t from 'tap'
import { block } from './helpers.js'

t.test('ollama ps, v0.10+ layout with CONTEXT (four-space padding, trailing spaces)', async t => {
  const { sample, problems } = block(
    'NAME                 ID              SIZE      PROCESSOR          CONTEXT    UNTIL \n' +
      'gemma4:latest        c6eb396dbd59    9.6 GB    100% GPU           131072     2 minutes from now    \n' +
      'qwen3:4b-instruct    0edcdef34593    3.5 GB    37%/63% CPU/GPU    8192       Stopping...           \n' +
      'ministral:latest     9338c99a2f27    29 GB     100% CPU           111616     Forever               \n',
  )
  t.equal(problems.total, 0)
  const m = sample.cliModels!
  t.equal(m.length, 3)
  t.same(m[0], { source: 'ollama-ps', name: 'gemma4:latest', digest: 'c6eb396dbd59', sizeBytes: 9.6e9, processor: '100% GPU', sizeVramBytes: 9.6e9, contextLength: 131072, until: '2 minutes from now' })
  t.equal(m[1]!.sizeVramBytes, Math.round(3.5e9 * 0.63))
  t.equal(m[1]!.until, 'Stopping...')
  t.equal(m[2]!.sizeBytes, 29e9)
  t.equal(m[2]!.sizeVramBytes, 0)
  t.equal(m[2]!.forever, true)
})

t.test('ollama ps before 0.3.11: five columns separated by TABs', async t => {
  const { sample, problems } = block('NAME\tID\tSIZE\tPROCESSOR\tUNTIL \nllama3:latest\t365c0bd3c000\t5.4 GB\t48%/52% CPU/GPU\t4 minutes from now\t\n')
  t.equal(problems.total, 0)
  t.same(sample.cliModels![0], {
    source: 'ollama-ps', name: 'llama3:latest', digest: '365c0bd3c000', sizeBytes: 5.4e9, processor: '48%/52% CPU/GPU', sizeVramBytes: Math.round(5.4e9 * 0.52), until: '4 minutes from now',
  })
})

t.test('ollama ps 0.3.11-0.9: five columns with spaces; KB and MB sizes; Unknown processor', async t => {
  const { sample } = block(
    'NAME              ID              SIZE      PROCESSOR    UNTIL \n' +
      'all-minilm:22m    1b226e2802db    46 MB     100% GPU     About a minute from now    \n' +
      'tiny:latest       0123456789ab    512 KB    Unknown      Less than a second from now    \n',
  )
  t.equal(sample.cliModels![0]!.sizeBytes, 46e6)
  t.equal(sample.cliModels![1]!.sizeBytes, 512e3)
  t.equal(sample.cliModels![1]!.processor, 'Unknown')
  t.equal(sample.cliModels![1]!.sizeVramBytes, undefined)
})

t.test('ollama ps of a newer version with an extra column is read by column name', async t => {
  const { sample } = block('NAME        ID              SIZE      PROCESSOR    CONTEXT    PARALLEL    UNTIL \nqwen3:8b    500a1f067a9f    6.0 GB    100% GPU     32768      4           Forever    \n')
  const m = sample.cliModels![0]!
  t.equal(m.sizeBytes, 6e9)
  t.equal(m.contextLength, 32768)
  t.equal(m.until, 'Forever')
})

t.test('ollama ps header only: nothing loaded; and the CLI failing when the server is down', async t => {
  const a = block('NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL ')
  t.same(a.sample.cliModels, [])
  const b = block("Error: could not connect to ollama server, run 'ollama serve' to start it")
  t.equal(b.problems.total, 0)
  t.equal(b.events[0]!.kind, 'source-error')
  t.equal(b.sample.cliModels, undefined)
})

const PRETTY = `{
  "models": [
    {
      "name": "mistral:latest",
      "model": "mistral:latest",
      "size": 5137025024,
      "digest": "2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8",
      "details": {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": null,
        "parameter_size": "7.2B",
        "quantization_level": "Q4_0"
      },
      "expires_at": "2026-08-21T14:43:07.512345-07:00",
      "size_vram": 5137025024,
      "context_length": 4096
    }
  ]
}`

t.test('/api/ps pretty-printed by jq, spanning lines, families null', async t => {
  const { sample, problems } = block(PRETTY)
  t.equal(problems.total, 0)
  t.same(sample.models, [
    { source: 'api-ps', name: 'mistral:latest', sizeBytes: 5137025024, digest: '2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8', sizeVramBytes: 5137025024, contextLength: 4096, expiresAt: '2026-08-21T14:43:07.512345-07:00', format: 'gguf', family: 'llama', parameterSize: '7.2B', quantization: 'Q4_0' },
  ])
})

t.test('/api/ps compact; v0.1.38 shape without size_vram or context_length; forever', async t => {
  const { sample } = block(
    '{"models":[{"name":"llama3:latest","model":"llama3:latest","modified_at":"0001-01-01T00:00:00Z","size":4661224676,"digest":"365c0bd3c000a25d28ddbf732fe1c6add414de7275464c4e4d1c3b5fcb5d8ad1","details":{"format":"gguf","family":"llama","families":["llama"],"parameter_size":"8.0B","quantization_level":"Q4_0"},"expires_at":"2318-12-01T13:25:24.36712-08:00"}]}',
  )
  const m = sample.models![0]!
  t.equal(m.sizeVramBytes, undefined)
  t.equal(m.contextLength, undefined)
  t.equal(m.forever, true)
})

t.test('/api/ps with nothing loaded, with a brace inside a string, and damaged', async t => {
  t.same(block('{"models":[]}').sample.models, [])
  const s = block('{"models":[{"name":"we}ird:latest","model":"x","size":1,"digest":"d","details":{},"expires_at":"2026-01-01T00:00:00Z","size_vram":1}]}')
  t.equal(s.sample.models![0]!.name, 'we}ird:latest')
  const bad = block('{"models":[{"name":\nvm.swapusage: total = 1.00M  used = 0.00M  free = 1.00M')
  t.equal(bad.problems.count('bad-json'), 1)
  t.equal(bad.sample.models, undefined)
  const err = block('{"error":"something went wrong"}')
  t.equal(err.problems.count('bad-json'), 1)
})

t.test('several servers: each listing after a memtrace server line is that server\'s; a server that did not answer is not among them', async t => {
  const { sample, events, problems } = block(
    'memtrace server {"pid":1100,"address":"127.0.0.1:11434","via":"environ"}\n' +
      'NAME           ID              SIZE      PROCESSOR    CONTEXT    UNTIL\n' +
      'llama3.2:3b    a80c4f17acd5    2.8 GB    100% GPU     4096       4 minutes from now\n' +
      '{"models":[{"name":"llama3.2:3b","model":"llama3.2:3b","size":2800000000,"digest":"a80c4f17acd5","size_vram":2800000000,"expires_at":"2026-11-20T10:05:00Z"}]}\n' +
      'memtrace server {"pid":2100,"address":"127.0.0.1:11435","via":"argv"}\n' +
      'NAME           ID              SIZE      PROCESSOR    CONTEXT    UNTIL\n' +
      'qwen3:8b       500a1f067a9f    6.3 GB    100% GPU     4096       4 minutes from now\n' +
      '{"models":[{"name":"qwen3:8b","model":"qwen3:8b","size":6300000000,"digest":"500a1f067a9f","size_vram":6300000000,"expires_at":"2026-11-20T10:05:00Z"}]}\n' +
      'memtrace server {"pid":3100,"address":"[::1]:11436","via":"default"}\n',
  )
  t.equal(problems.total, 0)
  t.same(sample.models?.map(m => [m.name, m.server]), [['llama3.2:3b', '127.0.0.1:11434'], ['qwen3:8b', '127.0.0.1:11435']], 'both listings, each marked with its server')
  t.same(sample.cliModels?.map(m => [m.name, m.server]), [['llama3.2:3b', '127.0.0.1:11434'], ['qwen3:8b', '127.0.0.1:11435']], 'and both tables')
  t.same(sample.servers, ['127.0.0.1:11434', '127.0.0.1:11435'], 'the third server gave no listing: it says nothing this time')
  t.same(events.map(e => [e.kind, e.pid, e.address, e.via]), [['server', 1100, '127.0.0.1:11434', 'environ'], ['server', 2100, '127.0.0.1:11435', 'argv'], ['server', 3100, '[::1]:11436', 'default']])
})

t.test('without server lines, two listings in a block are read as before: the last is kept, nothing is marked', async t => {
  const { sample } = block('{"models":[{"name":"a:1","model":"a:1","size":1}]}\n{"models":[{"name":"b:1","model":"b:1","size":2}]}\n')
  t.same(sample.models?.map(m => m.name), ['b:1'])
  t.equal(sample.servers, undefined)
  t.equal(sample.models?.[0]?.server, undefined)
})
