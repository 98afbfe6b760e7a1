/**
 * What the server said when it started, found in its log before the daemon
 * began to follow it: its `server config` line (the settings that shape
 * memory) and its `Listening on … (version X)` line. A server started hours
 * before the daemon printed both long ago; the report names them. Read from
 * the file's end backwards, a chunk at a time, never more than MAX_BACK.
 * And the two lines kept only in part: the server config, and a runner's
 * start without its command line.
 */
import { closeSync, fstatSync, readSync } from 'node:fs'
import { openRegular } from '../core/bounded-file.js'
import type { ServerEvent } from '../schemas/index.js'

/** The most of a log read backwards for the start lines. */
export const MAX_BACK = 64 * 1024 * 1024
const CHUNK = 1 << 20

const CONFIG_RE = /msg="?server config"? |\bINFO server config env=/
const VERSION_RE = /msg="Listening on .*\(version [^)\s]{1,40}\)"/

/** The last start's `server config` and version lines, as printed, oldest first; none where the file cannot be read. */
export function startLines(file: string, maxBack = MAX_BACK): string[] {
  let fd: number
  try {
    fd = openRegular(file).fd
  } catch {
    return []
  }
  try {
    const size = fstatSync(fd).size
    let end = size
    let carry = ''
    let config: string | undefined
    let version: string | undefined
    while (end > 0 && size - end < maxBack && (config === undefined || version === undefined)) {
      const start = Math.max(0, end - CHUNK)
      const buf = Buffer.allocUnsafe(end - start)
      readSync(fd, buf, 0, buf.length, start)
      const lines = (buf.toString('latin1') + carry).split('\n')
      // The first piece may be the end of a line that began in the chunk before.
      carry = start > 0 ? (lines.shift() as string) : ''
      for (let i = lines.length - 1; i >= 0; i--) {
        const l = lines[i] as string
        if (l.length > 16 * 1024) continue
        if (version === undefined && VERSION_RE.test(l)) version = l
        else if (config === undefined && CONFIG_RE.test(l)) config = l
      }
      end = start
      // A line longer than a chunk is no start line: carry no more of it.
      if (carry.length > 16 * 1024) carry = ''
    }
    return [config, version].filter((l): l is string => l !== undefined).map(l => Buffer.from(l, 'latin1').toString('utf8'))
  } catch {
    return []
  } finally {
    closeSync(fd)
  }
}

/** A server config line cut to the settings memtrace reads: never the rest of the server's environment (paths, proxies, origins). */
export function settingsOnly(line: string, e: ServerEvent): string {
  const kept = Object.entries(e.settings ?? {})
    .map(([k, v]) => `${k}:${v}`)
    .join(' ')
  return line.replace(/\benv="map\[(?:[^"\\]|\\.)*\]"|\benv=map\[[^\]]*\]/, `env="map[${kept}]"`)
}

/** A runner's start without its command line: only what memtrace reads from it, spelled as llama-server's flags. */
export function withoutCommandLine(text: string, e: ServerEvent): string {
  const f = e.figures ?? {}
  const kept = [e.model && `--model ${e.model}`, e.port !== undefined && `--port ${e.port}`, f.numCtx !== undefined && `-c ${f.numCtx}`, f.numBatch !== undefined && `-b ${f.numBatch}`, f.parallel !== undefined && `-np ${f.parallel}`].filter(Boolean).join(' ')
  return text.replace(/\bcmd="(?:[^"\\]|\\.)*"/, `cmd="${kept}"`)
}
