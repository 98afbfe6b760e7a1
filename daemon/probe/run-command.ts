import { execFile } from 'node:child_process'

/** What a command printed, or why it could not run. */
export type CommandResult = { ok: true; stdout: string } | { ok: false; error: string; missing: boolean }

/**
 * Runs a command with a timeout and a cap on its output. A missing command,
 * a non-zero exit and a timeout are results, never exceptions.
 */
export function runCommand(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise(resolve => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8', env: env ?? process.env, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, stdout })
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number }
      if (e.code === 'ENOENT') return resolve({ ok: false, error: `${cmd}: command not found`, missing: true })
      if (e.killed) return resolve({ ok: false, error: `${cmd}: no answer within ${timeoutMs} ms`, missing: false })
      const why = (stderr || stdout || e.message).trim().split('\n')[0]?.slice(0, 300) ?? ''
      resolve({ ok: false, error: `${cmd} ${args.join(' ')}: exit ${e.code}: ${why}`, missing: false })
    })
  })
}
