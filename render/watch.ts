import { watch } from 'chokidar'
import { statSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import type { RenderArgs } from './args.js'

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
  // Watch the directories, not the files: a rotated file is a new inode at the
  // old path, which a watch on the file itself would not see.
  const files = new Set([resolve(a.procPath), resolve(a.sysPath)])
  const ours = (p: string) => files.has(resolve(p))
  const watcher = watch([...new Set([...files].map(f => dirname(f)))], { ignoreInitial: true, persistent: true, depth: 0 })
  watcher
    .on('add', p => ours(p) && schedule())
    .on('change', p => ours(p) && schedule())
    .on('unlink', p => ours(p) && err.write(`${stamp()} ${basename(p)} was removed; waiting for it to come back\n`))
  watcher.on('error', e => err.write(`${stamp()} memtrace render --watch: ${(e as Error).message}\n`))
  // File events can be lost on a busy machine or a network file system: a
  // slow check of size, time and inode catches what they miss.
  const sig = () => [...files].map(f => {
    try {
      const st = statSync(f)
      return `${st.ino}:${st.size}:${st.mtimeMs}`
    } catch {
      return 'none'
    }
  }).join('|')
  let last = sig()
  const poll = setInterval(() => {
    const now = sig()
    if (now !== last) {
      last = now
      schedule()
    }
  }, 2000)
  out.write(`watching ${a.procPath} and ${a.sysPath}; Ctrl-C stops\n`)
  return new Promise<number>(resolve => {
    const stop = () => {
      clearTimeout(timer)
      clearInterval(poll)
      void watcher.close().then(() => resolve(0))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
