/**
 * The models folder from the runner: the macOS app can set its own, which
 * memtrace never sees as OLLAMA_MODELS. The runner's --model blob path says
 * where it is, and the manifests there name the runner.
 */
import t from 'tap'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { installStandin } from '../../standin/install.js'
import { exited, foreground, read, sleep, traceFiles } from './helpers.js'

t.test('a runner whose models are in a folder of its own is named from the manifests beside its blob', async t => {
  const dir = t.testdir({})
  const { ollama } = installStandin(join(dir, 'standin'))
  // A model no other test pulls: its blob is named only by the manifests here.
  const models = join(dir, 'external-drive', 'ollama-models')
  spawnSync(ollama, ['pull', 'qwen3-coder:30b'], { env: { ...process.env, OLLAMA_MODELS: models } })
  const manifest = JSON.parse(readFileSync(join(models, 'manifests', 'registry.ollama.ai', 'library', 'qwen3-coder', '30b'), 'utf8')) as { layers: { mediaType: string; digest: string }[] }
  const blob = join(models, 'blobs', (manifest.layers.find(l => l.mediaType === 'application/vnd.ollama.image.model') as { digest: string }).digest.replace(':', '-'))
  // A runner without a server: a script named ollama, with the app's argv.
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'ollama'), '#!/bin/sh\nsleep 5\n')
  chmodSync(join(bin, 'ollama'), 0o755)
  const runner = spawn('/bin/sh', [join(bin, 'ollama'), 'runner', '--ollama-engine', '--model', blob, '--port', '51999'], { stdio: 'ignore' })
  t.teardown(() => runner.kill('SIGKILL'))
  const home = join(dir, 'home')
  mkdirSync(home)
  const env = { ...process.env, HOME: home, OLLAMA_MODELS: '' }
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--system-interval', '1s'], env)
  await sleep(2500)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  t.match(read(traceFiles(trace).sys), new RegExp(`memtrace runner \\{"ts":"[^"]+","pid":\\d+,"model":"qwen3-coder:30b"`), 'named by the manifests beside its blob, with no OLLAMA_MODELS')
})
