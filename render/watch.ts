import { watch } from 'chokidar'
import { basename } from 'node:path'
import type { RenderArgs } from './main.js'

const DEBOUNCE_MS = 750

/**
 * Renders again whenever a trace grows, so a browser tab can follow a live
 * run. Changes are debounced; a render never overlaps the previous one; a
 * trace that is rotated (removed and created again) is followed at its path.
 * Runs until interrupted.
 */
export async function watchAndRender(
  a: RenderArgs,
  render: (a: RenderArgs) => Promise<void>,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  const stamp = () => new Date().toISOString().slice(11, 19)
  const once = async () => {
    if (running) {
      again = true
      return
    }
    running = render(a)
      .then(() => {
        out.write(`${stamp()} rendered ${a.outPath}\n`)
      })
      .catch((e: Error) => {
        err.write(`${stamp()} memtrace render --watch: ${e.message}; still watching\n`)
      })
    await running
    running = undefined
    if (again) {
      again = false
      void once()
    }
  }
  const schedule = () => {
    clearTimeout(timer)
    timer = setTimeout(() => void once(), DEBOUNCE_MS)
  }
  await once()
  const watcher = watch([a.procPath, a.sysPath], { ignoreInitial: true, persistent: true })
  watcher.on('add', schedule).on('change', schedule).on('unlink', p => err.write(`${stamp()} ${basename(p)} was removed; waiting for it to come back\n`))
  watcher.on('error', e => err.write(`${stamp()} memtrace render --watch: ${(e as Error).message}\n`))
  out.write(`watching ${a.procPath} and ${a.sysPath}; Ctrl-C stops\n`)
  return new Promise<number>(resolve => {
    const stop = () => {
      clearTimeout(timer)
      void watcher.close().then(() => resolve(0))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
