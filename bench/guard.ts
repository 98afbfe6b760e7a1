/**
 * What the bench tells its guardian (`guardian.ts`), so that its servers,
 * their runners and its daemon die with it even on SIGKILL. Started at the
 * first word, in a session of its own; the pipe to it is the bench's alone
 * (libuv opens it close-on-exec, so no server or daemon inherits it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

let guardian: ChildProcess | undefined

function say(line: string): void {
  if (!guardian) {
    guardian = spawn(process.execPath, [fileURLToPath(new URL('./guardian.js', import.meta.url))], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
    guardian.unref()
    guardian.stdin?.on('error', () => undefined)
  }
  guardian.stdin?.write(`${line}\n`)
}

/** A server memtrace started, leader of its own process group. */
export const serverStarted = (pid: number) => say(`server ${pid}`)
/** That server and its group are gone. */
export const serverGone = (pid: number) => say(`server-gone ${pid}`)
/** A daemon tracing into `dir` (told before `memtrace start`, so that a kill during the start is covered). */
export const daemonStarted = (dir: string) => say(`daemon ${dir}`)
export const daemonGone = (dir: string) => say(`daemon-gone ${dir}`)

/** The bench ended on its own: the guardian leaves, and the pipe no longer holds the bench open. */
export function released(): void {
  if (!guardian) return
  guardian.stdin?.end('done\n')
  ;(guardian.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  guardian = undefined
}
