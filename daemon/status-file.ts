import { closeSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createFresh } from './safe-open.js'

/** What `memtrace status` reports, kept current by the daemon. */
export interface DaemonStatus {
  version: string
  pid: number
  running: boolean
  startedAt: string
  updatedAt: string
  dir: string
  procFile: string
  systemFile: string
  logFile: string
  processSamples: number
  processRows: number
  systemSamples: number
  lastProcessSample?: string
  lastSystemSample?: string
  missedTicks: { process: number; system: number }
  lateness: { p50Ms: number; p99Ms: number; maxMs: number }
  lastError?: { at: string; message: string }
}

export const STATUS_NAME = 'memtrace.status.json'

export function writeStatus(dir: string, s: DaemonStatus): void {
  const path = join(dir, STATUS_NAME)
  const tmp = `${path}.tmp-${process.pid}`
  try {
    // A new file of our own (never through a link); rename replaces a link at `path` itself.
    const fd = createFresh(tmp)
    try {
      writeFileSync(fd, `${JSON.stringify(s, null, 2)}\n`)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch {
    /* the directory may be gone; the daemon reports that itself */
  }
}

export function readStatus(dir: string): DaemonStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, STATUS_NAME), 'utf8')) as DaemonStatus
  } catch {
    return undefined
  }
}
