/** A server-log command (`--server-log-cmd`, `docker logs -f`, `journalctl -f`): started in a process group of its own, ended with all it started. */
import { type ChildProcess, spawn } from 'node:child_process'

/** How long a command is given to end after SIGTERM at the stop, before SIGKILL. */
export const KILL_GRACE_MS = 500

export interface LogCommand {
  child: ChildProcess
  /** Resolves when the command has exited, or could not run. */
  gone: Promise<void>
}

/**
 * Starts `command`, its stdout and stderr read as UTF-8 text (`docker logs`
 * writes the container's stderr, where Ollama logs, to its stderr). A
 * process group of its own: at the stop the command and all it started (a
 * shell's children) are ended together, and a Ctrl-C to a foreground
 * daemon's terminal reaches the daemon, which ends it, not the command.
 */
export function startCommand(command: string[], shell: boolean, onText: (stream: 0 | 1, text: string) => void): LogCommand {
  const child = spawn(shell ? '/bin/sh' : (command[0] as string), shell ? ['-c', command.join(' ')] : command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const gone = new Promise<void>(done => {
    child.once('exit', () => done())
    child.once('error', () => done())
  })
  for (const [i, out] of [child.stdout, child.stderr].entries()) {
    out?.setEncoding('utf8')
    out?.on('data', (chunk: string) => onText(i as 0 | 1, chunk))
  }
  return { child, gone }
}

/**
 * Sends the command's group SIGTERM, and SIGKILL after KILL_GRACE_MS (one
 * that never prints and ignores SIGTERM must not hold up the daemon's exit);
 * resolves when it is gone.
 */
export async function endCommand({ child, gone }: LogCommand): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal)
    } catch {
      // gone
    }
  }
  group('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const grace = new Promise<void>(r => (timer = setTimeout(r, KILL_GRACE_MS)))
  await Promise.race([gone, grace])
  clearTimeout(timer)
  // Whatever of the group is left (the command itself, or a child that ignores SIGTERM).
  group('SIGKILL')
  await Promise.race([gone, new Promise(r => setTimeout(r, 100))])
  child.stdout?.destroy()
  child.stderr?.destroy()
}
