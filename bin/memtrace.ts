#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { CommandError, InputError, UsageError } from '../core/errors.js'
import { printable } from '../core/safe-text.js'

const HELP = `memtrace: trace the memory of a local LLM server (Ollama, MLX, llama.cpp)
and turn it into an SVG for a bug report.

Usage: memtrace <command> [options]

Commands:
  start [--dir DIR] [options]                    start the tracing daemon in the background
  stop [--dir DIR]                               stop it; returns when its files are closed
  status [--dir DIR]                             is it running, what has it written
  mark [--dir DIR] "text"                        add a marker to the running trace
  run [--dir DIR] -- <command …>                 trace while a command runs, then render
  render <process.tsv> <system.log> <out.svg>   draw the two-panel chart
  render --dir DIR                               draw the newest traces in DIR
  parse <process.tsv> <system.log>               print the parsed records as JSON lines
  plan MODEL [--num-ctx N] [--num-parallel N]    what a model should need, against this machine
  bench num-parallel --model M [options]         seed 000's NUM_PARALLEL sweep, traced
  schema [NAME]                                  print the JSON Schema of a record

Options:
  -h, --help       help (also: memtrace <command> --help)
  -v, --version    version`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  const out = process.stdout
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      out.write(`${HELP}\n`)
      return cmd === undefined ? 1 : 0
    case '-v':
    case '--version':
      out.write(`${version()}\n`)
      return 0
    case 'render': {
      // Each command loads only its own code: the daemon stays small.
      const { parseRenderArgs, RENDER_HELP, runRender } = await import('../render/index.js')
      const args = parseRenderArgs(rest)
      if (args === 'help') {
        out.write(`${RENDER_HELP}\n`)
        return 0
      }
      return runRender(args, out, process.stderr)
    }
    case 'parse':
      return (await import('../render/parse-command.js')).runParse(rest, out)
    case 'plan':
      return (await import('../bench/plan-command.js')).runPlan(rest, out)
    case 'bench':
      return (await import('../bench/bench-command.js')).runBench(rest, out, process.stderr)
    case 'start':
      return (await import('../daemon/commands.js')).cmdStart(rest, version(), out)
    case 'stop':
      return (await import('../daemon/commands.js')).cmdStop(rest, out)
    case 'status':
      return (await import('../daemon/commands.js')).cmdStatus(rest, out)
    case 'mark':
      return (await import('../daemon/commands.js')).cmdMark(rest, out)
    case 'run':
      return (await import('./run.js')).cmdRun(rest, out)
    case 'schema': {
      const { SCHEMAS } = await import('../schemas/index.js')
      const name = rest[0]
      if (name === '--help' || name === '-h') {
        out.write(`Usage: memtrace schema [${Object.keys(SCHEMAS).join('|')}]\n`)
        return 0
      }
      if (name === undefined) {
        out.write(`${JSON.stringify(SCHEMAS, null, 2)}\n`)
        return 0
      }
      const schema = (SCHEMAS as Record<string, unknown>)[name]
      if (!schema) throw new UsageError(`no schema "${name}"; known: ${Object.keys(SCHEMAS).join(', ')}`)
      out.write(`${JSON.stringify(schema, null, 2)}\n`)
      return 0
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`)
  }
}

// A reader that went away (`memtrace render … | head -1`, a terminal closed
// under `memtrace run`) is no error: printing stops, the work (files written,
// the daemon stopped) still completes.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'EIO' && e.code !== 'ERR_STREAM_DESTROYED') throw e
  })
}

main(process.argv.slice(2)).then(
  code => {
    process.exitCode = code
  },
  (e: unknown) => {
    const cmd = process.argv[2] ?? ''
    const who = ['render', 'parse', 'plan', 'bench', 'schema', 'start', 'stop', 'status', 'mark', 'run'].includes(cmd) ? `memtrace ${cmd}` : 'memtrace'
    // A message may quote a stranger's text (a server's error, a file's metadata): nothing in it reaches the terminal as a control.
    const message = printable((e as Error)?.message ?? String(e))
    if (e instanceof CommandError) {
      process.stderr.write(`${who}: ${message}\n`)
      process.exitCode = e.code
    } else if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${who}: ${message}\nTry: memtrace ${cmd && cmd !== '--help' ? `${cmd} ` : ''}--help\n`)
      process.exitCode = 1
    } else if (e instanceof InputError) {
      process.stderr.write(`${who}: ${message}\n`)
      process.exitCode = 2
    } else {
      process.stderr.write(`${who}: internal error: ${printable((e as Error)?.stack ?? String(e))}\n`)
      process.exitCode = 70
    }
  },
)
