/**
 * The stand-in installed for a sweep's end-to-end test: its `bin` first on
 * PATH, its models pulled into the test's folder, and the environment a
 * `memtrace bench` run there needs. OLLAMA_HOST points at a closed port, so
 * only the server the bench starts itself answers. The simulated runner at
 * 2 % of real sizes unless `extra` says otherwise.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { installStandin } from '../../standin/install.js'

export function standinHost(dir: string, models: string[], extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; ollama: string } {
  const { bin, ollama } = installStandin(join(dir, 'standin'))
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, OLLAMA_MODELS: join(dir, 'models'), OLLAMA_STANDIN_SCALE: '0.02', OLLAMA_STANDIN_RUNNER: 'simulated', OLLAMA_HOST: '127.0.0.1:9', ...extra }
  spawnSync(ollama, ['pull', ...models], { env })
  return { env, ollama }
}
