import { execFile } from 'node:child_process'
import { basename } from 'node:path'

/** What a command printed, or why it could not run. */
export type CommandResult = { ok: true; stdout: string } | { ok: false; error: string; missing: boolean }

/**
 * Runs a command with a timeout and a cap on its output. A missing command,
 * a non-zero exit and a timeout are results, never exceptions. When `signal`
 * aborts (the daemon is stopping), the command is killed and the result is a
 * timeout at once: a child of the command that still holds its output open
 * does not hold up the answer, nor the daemon's exit.
 */
export function runCommand(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<CommandResult> {
  const started = Date.now()
  // Messages name the program, not where it lies (commands are run by full path).
  const name = basename(cmd)
  const stopped = (): CommandResult => ({ ok: false, error: `${name}: no answer within ${Date.now() - started} ms (stopped waiting: the daemon is stopping)`, missing: false })
  if (signal?.aborted) return Promise.resolve(stopped())
  return new Promise(resolve => {
    let settled = false
    const done = (r: CommandResult) => {
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', onAbort)
      resolve(r)
    }
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8', env: env ?? process.env, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (!err) return done({ ok: true, stdout })
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number }
      if (e.code === 'ENOENT') return done({ ok: false, error: `${name}: command not found`, missing: true })
      if (e.killed) return done({ ok: false, error: `${name}: no answer within ${timeoutMs} ms`, missing: false })
      const why = (stderr || stdout || e.message).trim().split('\n')[0]?.slice(0, 300) ?? ''
      done({ ok: false, error: `${name} ${args.join(' ')}: exit ${e.code}: ${why}`, missing: false })
    })
    function onAbort(): void {
      child.kill('SIGKILL')
      child.stdout?.destroy()
      child.stderr?.destroy()
      done(stopped())
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
