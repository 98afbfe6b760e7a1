/** What every sweep shares: the daemon tracing it, each step's memory from that trace, and the statistics. */
import { spawnSync } from 'node:child_process'
import type { BenchStep } from '../schemas/index.js'
import { loadTrace } from '../render/load.js'
import { newestInDir } from '../render/main.js'
import { stepMemory, type TimedSample } from './step-memory.js'

const BIN = new URL('../bin/memtrace.js', import.meta.url).pathname

/** memtrace's own CLI: the sweeps start, mark and stop the daemon as a user would. */
export const memtrace = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })
export const sleep = (ms: number) => new Promise(ok => setTimeout(ok, ms))

/** A step, with the span its requests ran in (not written out). */
export type Timed = BenchStep & { measureFrom?: number; measureTo?: number }

/** Each step's memory, from the trace the daemon wrote during it. */
export async function addMemory(trace: string, steps: Timed[]): Promise<void> {
  const { procPath, sysPath } = newestInDir(trace, undefined)
  const samples: TimedSample[] = []
  const { trace: t } = await loadTrace(procPath, sysPath, r => {
    if (r.record === 'system-sample') samples.push({ tsMs: Date.parse(r.ts), sample: r })
  })
  for (const s of steps) {
    if (s.measureFrom === undefined || s.measureTo === undefined) continue
    Object.assign(s, stepMemory(t, samples, s.measureFrom, s.measureTo))
  }
}

export function mean(v: number[]): number {
  return v.reduce((a, x) => a + x, 0) / v.length
}

export function sd(v: number[]): number {
  if (v.length < 2) return 0
  const m = mean(v)
  return Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / (v.length - 1))
}
