import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Writes the stand-in's executables into `dir`, laid out as Ollama's Linux
 * tarball is: `bin/ollama` and `lib/ollama/llama-server`. Each is a script run
 * by this Node, so `ps` shows `ollama` / `llama-server` as the process name.
 */
export function installStandin(dir: string, o: { gpu?: boolean } = {}): { bin: string; ollama: string; llamaServer: string } {
  const main = new URL('./main.js', import.meta.url).href
  const script = `#!${process.execPath}\n// memtrace's Ollama stand-in: not Ollama.\nimport(${JSON.stringify(main)})\n`
  const bin = join(dir, 'bin')
  const lib = join(dir, 'lib', 'ollama')
  mkdirSync(bin, { recursive: true })
  mkdirSync(lib, { recursive: true })
  const ollama = join(bin, 'ollama')
  const llamaServer = join(lib, 'llama-server')
  // With `gpu`, also `bin/nvidia-smi`: one stand-in GPU holding what the runners hold.
  for (const p of o.gpu ? [ollama, llamaServer, join(bin, 'nvidia-smi')] : [ollama, llamaServer]) {
    writeFileSync(p, script)
    chmodSync(p, 0o755)
  }
  return { bin, ollama, llamaServer }
}

// `node dist/standin/install.js DIR [--gpu]` prints the bin directory.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2]
  if (!dir) {
    process.stderr.write('usage: install.js DIR [--gpu]\n')
    process.exitCode = 1
  } else process.stdout.write(`${installStandin(dir, { gpu: process.argv.includes('--gpu') }).bin}\n`)
}
