/** What `memtrace render` writes: the PNG beside a chart, and all outputs or none. */
import { lstat, rename, unlink, writeFile } from 'node:fs/promises'
import { InputError } from '../core/errors.js'

/** The PNG a report's chart gets beside an SVG (or the PNG itself). */
export function pngBeside(outPath: string): string {
  return outPath.toLowerCase().endsWith('.png') ? outPath : outPath.replace(/(\.svg)?$/i, '.png')
}

/** Writes whole or not at all: never a half-written file. */
export async function toPng(svg: string | Buffer, scale: number): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js')
  return Buffer.from(new Resvg(svg, { font: { loadSystemFonts: true }, background: '#ffffff', fitTo: { mode: 'zoom', value: scale } }).render().asPng())
}

/**
 * All outputs or none: each is written to a temporary file beside it, and
 * only when every one is complete are they renamed into place. An output
 * given as chunks is written chunk after chunk.
 */
export async function writeAll(outputs: [string, string | Buffer | readonly Buffer[]][]): Promise<void> {
  // A directory in an output's place would fail only at its rename, after the others: refuse it first.
  for (const [path] of outputs) {
    const st = await lstat(path).catch(() => undefined)
    if (st?.isDirectory()) throw new InputError(`cannot write ${path}: it is a directory`)
  }
  const done: string[] = []
  let failed: [string, Error] | undefined
  for (const [path, data] of outputs) {
    const tmp = `${path}.tmp-${process.pid}`
    try {
      // Whatever sits at the temporary name goes first (unlink never follows a link); then O_EXCL:
      // a link planted in between fails the write instead of being followed.
      await unlink(tmp).catch(() => undefined)
      await writeFile(tmp, data, { mode: 0o644, flag: 'wx' })
      done.push(tmp)
    } catch (e) {
      failed = [path, e as Error]
      await unlink(tmp).catch(() => undefined)
      break
    }
  }
  if (!failed) {
    for (const [path] of outputs) {
      try {
        await rename(`${path}.tmp-${process.pid}`, path)
      } catch (e) {
        failed = [path, e as Error]
        break
      }
    }
  }
  if (failed) {
    await Promise.all(done.map(t => unlink(t).catch(() => undefined)))
    throw new InputError(`cannot write ${failed[0]}: ${failed[1].message}`)
  }
}
