/**
 * `memtrace run -- cmd …`: the daemon traces one command from start to end,
 * then the renderer draws it. It joins the two halves, so it lives here above
 * both.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { CommandError } from '../core/errors.js'
import { cmdStop, startInBackground } from '../daemon/commands.js'
import { parseStartArgs } from '../daemon/config.js'
import { type LockInfo, readLock } from '../daemon/lock.js'

export const RUN_HELP = `Usage: memtrace run [--dir DIR] [start options] -- <command …>

Starts tracing, runs the command in this terminal, stops tracing when it exits
(or on Ctrl-C; a SIGTERM or SIGHUP to memtrace run is passed on to the
command and then does the same), renders DIR/memtrace-<stamp>.svg and a
Markdown report beside it, prints where they are, and exits with the
command's status. Tracing is always stopped, whatever the Ctrl-Cs; a third
Ctrl-C skips the chart.

With \`memtrace run -- ollama serve\`, the server's log (its stderr) is shown
as usual and followed too: its memory lines go into the trace.`

/** `memtrace run -- cmd …`: trace one command from start to end. */
export async function cmdRun(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const sep = argv.indexOf('--')
  const own = sep >= 0 ? argv.slice(0, sep) : argv
  const command = sep >= 0 ? argv.slice(sep + 1) : []
  if (own.includes('--help') || own.includes('-h')) {
    out.write(`${RUN_HELP}\n`)
    return 0
  }
  if (command.length === 0) throw new CommandError('give the command after --: memtrace run -- ollama run llama3.2 "hello"', 1)
  const cfg = parseStartArgs(own, process.env)
  if (cfg === 'help') return 0
  const quiet = { write: () => true } as unknown as NodeJS.WritableStream
  // Ctrl-C goes to the whole terminal group. The first is the command's;
  // memtrace waits for it to end. Every later one finds the handler still
  // there: tracing is always stopped, and a third press skips the chart.
  // SIGTERM and SIGHUP (a service manager, a timeout, a closed terminal) are
  // sent to memtrace run alone: they are passed on to the command, and then
  // count as a Ctrl-C does, so the daemon is never left running.
  let presses = 0
  let rendering = false
  let child: ChildProcess | undefined
  let first: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    first ??= signal
    if (signal !== 'SIGINT' && child && child.exitCode === null && child.signalCode === null) child.kill(signal)
    presses++
    if (presses === 2) out.write('memtrace: stopping the trace, then drawing the chart; Ctrl-C again to skip the chart\n')
    if (presses !== 3) return
    out.write('memtrace: no chart\n')
    if (!rendering) return
    // The daemon is stopped already: let the default action end the render.
    for (const s of SIGNALS) process.off(s, onSignal)
    process.kill(process.pid, signal)
  }
  for (const s of SIGNALS) process.on(s, onSignal)
  // `ollama serve`'s stderr is its log: teed to a private file the daemon follows, removed after the run.
  const serves = basename(command[0] as string) === 'ollama' && command[1] === 'serve' && cfg.serverLog === undefined
  const logDir = serves ? mkdtempSync(join(tmpdir(), 'memtrace-serve-')) : undefined
  const serverLog = logDir ? join(logDir, 'server.log') : undefined
  if (serverLog) writeFileSync(serverLog, '', { mode: 0o600 })
  try {
    await startInBackground(serverLog ? [...own, '--server-log', serverLog] : own, cfg.dir, quiet)
    const lock = readLock(cfg.dir)
    out.write(`memtrace: tracing into ${cfg.dir} while ${command.join(' ')} runs\n`)
    // A Ctrl-C (or SIGTERM) while tracing started means the command is not wanted.
    const status = first ? 128 + (osSignals[first] ?? 0) : await runCommand(command, serverLog, c => (child = c))
    await cmdStop(['--dir', cfg.dir], quiet)
    if (!lock || presses >= 3) return status
    rendering = true
    await renderRun(lock, cfg.dir, out)
    return status
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal)
    if (logDir) rmSync(logDir, { recursive: true, force: true })
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** Runs the command in this terminal; its exit status, as a shell gives it. */
function runCommand(command: string[], stderrCopy: string | undefined, started: (child: ChildProcess) => void): Promise<number> {
  return new Promise<number>(resolveStatus => {
    const child = spawn(command[0] as string, command.slice(1), { stdio: ['inherit', 'inherit', stderrCopy ? 'pipe' : 'inherit'] })
    started(child)
    if (stderrCopy && child.stderr) {
      const copy = createWriteStream(stderrCopy, { flags: 'a' })
      child.stderr.on('data', (d: Buffer) => {
        process.stderr.write(d)
        copy.write(d)
      })
      child.stderr.once('end', () => copy.end())
    }
    child.once('error', e => {
      process.stderr.write(`memtrace run: cannot run ${command[0]}: ${e.message}\n`)
      resolveStatus(127)
    })
    child.once('exit', (code, signal) => resolveStatus(code ?? 128 + (signal ? (osSignals[signal] ?? 0) : 0)))
  })
}

/** The chart and report of the run, with the render's own defaults (zone, threshold, size). */
async function renderRun(lock: LockInfo, dir: string, out: NodeJS.WritableStream): Promise<void> {
  const stamp = /^ollama-process-memtrace-(.*)\.tsv$/.exec(basename(lock.procFile))?.[1] ?? 'run'
  const { parseRenderArgs, runRender } = await import('../render/index.js')
  const args = parseRenderArgs([lock.procFile, lock.systemFile, `${dir}/memtrace-${stamp}.svg`, '--report', `${dir}/memtrace-${stamp}.md`])
  if (args === 'help') return
  await runRender(args, out, process.stderr).catch((e: Error) => process.stderr.write(`memtrace run: could not render: ${e.message}\n`))
}

const osSignals: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1, SIGQUIT: 3 }
