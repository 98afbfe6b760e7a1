import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

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

const USAGE = 'usage: install.js [--gpu] DIR'

/**
 * `install.js`'s arguments: one directory and `--gpu`, in any order. A word
 * that starts with `-` is a flag, never a directory (after `--`, it is one);
 * an unknown flag, no directory or two are a message, not a folder made.
 */
export function installArgs(argv: string[]): { dir: string; gpu: boolean } | { error: string } {
  let gpu: boolean | undefined
  let positionals: string[]
  try {
    ;({ values: { gpu }, positionals } = parseArgs({ args: argv, options: { gpu: { type: 'boolean' } }, allowPositionals: true, strict: true }))
  } catch (e) {
    return { error: `${(e as Error).message}\n${USAGE}` }
  }
  const [dir, ...more] = positionals
  if (dir === undefined || dir === '') return { error: `no directory given\n${USAGE}` }
  if (more.length > 0) return { error: `one directory only, not ${positionals.length}\n${USAGE}` }
  return { dir, gpu: gpu === true }
}

// `node dist/standin/install.js [--gpu] DIR` prints the bin directory.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const a = installArgs(process.argv.slice(2))
  if ('error' in a) {
    process.stderr.write(`install.js: ${a.error}\n`)
    process.exitCode = 2
  } else process.stdout.write(`${installStandin(a.dir, { gpu: a.gpu }).bin}\n`)
}
