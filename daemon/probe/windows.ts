import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

/**
 * Windows' programs by their full paths under %SystemRoot%, so that nothing
 * earlier on PATH answers in their place. MEMTRACE_WINDOWS_BIN, a directory,
 * replaces them all, for tests (a simulated Windows host on Linux).
 */
const WIN_BIN = {
  'powershell.exe': ['System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe'],
  'typeperf.exe': ['System32', 'typeperf.exe'],
} as const

export function winBin(name: keyof typeof WIN_BIN, env: NodeJS.ProcessEnv = process.env): string {
  if (env.MEMTRACE_WINDOWS_BIN) return join(env.MEMTRACE_WINDOWS_BIN, name)
  const root = env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows'
  return [root, ...WIN_BIN[name]].join('\\')
}

/**
 * PowerShell without a profile, a prompt or the machine's execution policy;
 * the script as -EncodedCommand (base64 of UTF-16 LE), so that no quoting of
 * the command line can change it.
 */
export function powershellArgs(script: string): string[] {
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', Buffer.from(script, 'utf16le').toString('base64')]
}

/** When process `pid` started, as CIM gives it, in UTC to the microsecond; nothing (and status 1) when there is none. */
export function startTimeScript(pid: number): string {
  return `$p = Get-CimInstance Win32_Process -Filter 'ProcessId=${Math.trunc(pid)}'\nif ($p -and $p.CreationDate) { $p.CreationDate.ToUniversalTime().ToString('o') } else { exit 1 }\n`
}

/**
 * Process `pid`'s start time (the lock's check of its holder): one
 * PowerShell, run only by start, stop, status and mark. Undefined when no
 * such process runs.
 */
export function winStart(pid: number): string | undefined {
  const r = spawnSync(winBin('powershell.exe'), powershellArgs(startTimeScript(pid)), { encoding: 'utf8', timeout: 10_000, windowsHide: true })
  const text = r.status === 0 ? r.stdout.trim() : ''
  return text || undefined
}

/**
 * The system memory counters, read by one typeperf that lives as long as the
 * daemon: what they are instances of is fixed (unlike processes), so the CSV
 * columns typeperf prints once hold for its whole life.
 */
export const SYSTEM_COUNTERS = ['\\Memory\\Available Bytes', '\\Memory\\Committed Bytes', '\\Memory\\Commit Limit', '\\Paging File(_Total)\\% Usage', '\\Memory\\Pages/sec']
