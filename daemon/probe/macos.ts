import { join } from 'node:path'
import type { ProcInfo } from './proc-linux.js'
import { type CommandResult, runCommand } from './run-command.js'

/**
 * Apple's commands by their full paths, so that nothing earlier on PATH (a
 * Homebrew `ps`, a shell function's wrapper) answers in their place.
 * MEMTRACE_MACOS_BIN, a directory, replaces them all, for tests.
 */
const MAC_BIN = { ps: '/bin/ps', vm_stat: '/usr/bin/vm_stat', memory_pressure: '/usr/bin/memory_pressure', sysctl: '/usr/sbin/sysctl' } as const

export function macBin(name: keyof typeof MAC_BIN, env: NodeJS.ProcessEnv = process.env): string {
  return env.MEMTRACE_MACOS_BIN ? join(env.MEMTRACE_MACOS_BIN, name) : MAC_BIN[name]
}

const PS_ARGS = ['-axo', 'pid=,ppid=,comm=,rss=,vsz=,command=']
const INT_RE = /^\d+$/

/**
 * One line of `ps -axo pid=,ppid=,comm=,rss=,vsz=,command=`. `comm` is a path
 * that may contain spaces, so it runs up to the first two whole numbers
 * (rss, vsz) that follow it.
 */
export function parsePsLine(line: string): Omit<ProcInfo, 'startTicks'> | undefined {
  const t = line.trim().split(/\s+/)
  if (t.length < 5 || !INT_RE.test(t[0] as string) || !INT_RE.test(t[1] as string)) return undefined
  for (let k = 3; k + 1 < t.length; k++) {
    if (INT_RE.test(t[k] as string) && INT_RE.test(t[k + 1] as string)) {
      return {
        pid: Number(t[0]),
        ppid: Number(t[1]),
        comm: t.slice(2, k).join(' '),
        rssKb: Number(t[k]),
        vszKb: Number(t[k + 1]),
        command: t.slice(k + 2).join(' '),
      }
    }
  }
  return undefined
}

export async function macProcesses(timeoutMs: number, signal?: AbortSignal): Promise<{ procs: ProcInfo[]; error?: string }> {
  const r = await runCommand(macBin('ps'), PS_ARGS, timeoutMs, undefined, signal)
  if (!r.ok) return { procs: [], error: r.error }
  const procs: ProcInfo[] = []
  for (const line of r.stdout.split('\n')) {
    const p = parsePsLine(line)
    if (p) procs.push({ ...p, startTicks: 0 })
  }
  return { procs }
}

/** The seed's macOS sources, each with a timeout; output kept raw. */
export async function macSystemText(timeoutMs: number, signal?: AbortSignal): Promise<{ text: string; errors: string[] }> {
  const runs: [string, string[]][] = [
    [macBin('vm_stat'), []],
    [macBin('memory_pressure'), []],
    [macBin('sysctl'), ['vm.swapusage', 'hw.memsize']],
    // Apart, so that a macOS without it loses only this line: the level Activity Monitor colours its graph by (1, 2, 4).
    [macBin('sysctl'), ['kern.memorystatus_vm_pressure_level']],
  ]
  const results: CommandResult[] = await Promise.all(runs.map(([c, a]) => runCommand(c, a, timeoutMs, undefined, signal)))
  let text = ''
  const errors: string[] = []
  for (const r of results) {
    if (r.ok) text += r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`
    else errors.push(r.error)
  }
  return { text, errors }
}
