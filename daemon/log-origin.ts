/**
 * Where the server's log is: named by the user, found on this machine (the
 * macOS app, Homebrew, a systemd unit, Ollama's own on Windows), or, for a
 * server in a container, its runtime's log command, found from the server's
 * cgroup.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { formatTs } from '../core/parse/time.js'

/** Where the server's log comes from: a file followed by name, or a command's output (`journalctl -f`, `docker logs -f`). */
export type LogOrigin = { file: string } | { command: string[]; shell?: boolean }

/** The platforms whose own places for the server's log are known. */
export type LogPlatform = 'linux' | 'darwin' | 'win32'

/**
 * The server's log on this machine, found by itself: the macOS app's
 * `~/.ollama/logs/server.log`, Homebrew's `var/log/ollama.log`, the
 * systemd unit's journal, or on Windows Ollama's own
 * `%LOCALAPPDATA%\Ollama\server.log`. Undefined where none is found. The
 * Windows log is named even before it exists, so that a server started
 * after memtrace has its log read from its start (a missing one is said
 * once, and looked for at each poll).
 */
export function findServerLog(platform: LogPlatform, home = homedir(), exists: (p: string) => boolean = existsSync, env: NodeJS.ProcessEnv = process.env): LogOrigin | undefined {
  if (platform === 'win32') return env.LOCALAPPDATA ? { file: join(env.LOCALAPPDATA, 'Ollama', 'server.log') } : undefined
  if (platform === 'darwin') {
    for (const file of [join(home, '.ollama', 'logs', 'server.log'), '/opt/homebrew/var/log/ollama.log', '/usr/local/var/log/ollama.log']) if (exists(file)) return { file }
    return undefined
  }
  const unit = ['/etc/systemd/system/ollama.service', '/lib/systemd/system/ollama.service', '/usr/lib/systemd/system/ollama.service'].some(exists)
  if (unit && ['/usr/bin/journalctl', '/bin/journalctl'].some(exists)) return { command: ['journalctl', '-u', 'ollama', '-f', '-n', '0', '-o', 'short-iso', '--no-pager'] }
  return undefined
}

/** What an origin is, for a message. */
export function describeOrigin(o: LogOrigin): string {
  return 'file' in o ? o.file : o.command.join(' ')
}

/** The container a process runs in, as its runtime names it. */
export interface Container {
  runtime: 'docker' | 'podman' | 'containerd' | 'cri-o' | 'kubernetes'
  /** The full 64-hex id, as `docker logs` and `podman logs` take it. */
  id: string
}

const ID = '([0-9a-f]{64})'
/**
 * A container's cgroup, by the runtimes' own names for it, most specific
 * first. Podman's `libpod-conmon-<id>.scope` is its monitor, not the
 * container: no hex follows `libpod-` there, so it never matches.
 */
const CONTAINER_CGROUPS: [RegExp, Container['runtime']][] = [
  // Docker with the systemd cgroup driver (cgroup v2's default), also inside kubepods.slice.
  [new RegExp(`/docker-${ID}\\.scope(?=/|$)`, 'g'), 'docker'],
  // Podman with systemd (machine.slice, or a user's user.slice when rootless), or cgroupfs (/libpod_parent).
  [new RegExp(`/libpod-${ID}(?:\\.scope)?(?=/|$)`, 'g'), 'podman'],
  // containerd and CRI-O under the kubelet's systemd driver.
  [new RegExp(`/cri-containerd-${ID}\\.scope(?=/|$)`, 'g'), 'containerd'],
  [new RegExp(`/crio-${ID}\\.scope(?=/|$)`, 'g'), 'cri-o'],
  // Docker with the cgroupfs driver: /docker/<id>; nested, the innermost.
  [new RegExp(`/docker/${ID}(?=/|$)`, 'g'), 'docker'],
  // The kubelet's cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>, whatever the runtime.
  [new RegExp(`^/kubepods(?:/[^/]+)*?/${ID}(?=/|$)`, 'g'), 'kubernetes'],
]

/**
 * The container of a process, from the text of its `/proc/PID/cgroup`
 * (cgroup v2's `0::PATH` line first, then v1's memory controller, then the
 * others). Undefined for a process outside any container this knows.
 */
export function containerOf(cgroup: string): Container | undefined {
  const paths: string[] = []
  for (const line of cgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim())
    if (!m) continue
    const rank = m[1] === '0' && m[2] === '' ? 0 : (m[2] as string).split(',').includes('memory') ? 1 : 2
    paths.push(`${rank}${m[3]}`)
  }
  paths.sort((a, b) => (a[0] as string).localeCompare(b[0] as string))
  for (const ranked of paths) {
    const path = ranked.slice(1)
    for (const [re, runtime] of CONTAINER_CGROUPS) {
      const all = [...path.matchAll(re)]
      const last = all.at(-1)?.[1]
      if (last) return { runtime, id: last }
    }
  }
  return undefined
}

/** The container of the process `pid`, where it runs in one. */
export function containerOfPid(pid: number, procRoot = '/proc'): Container | undefined {
  try {
    return containerOf(readFileSync(join(procRoot, String(pid), 'cgroup'), 'latin1'))
  } catch {
    return undefined
  }
}

/**
 * The command that follows a container's log from `sinceMs` on (the
 * daemon's start, so a server seen a few seconds late loses nothing):
 * `docker logs -f --since T ID`, or Podman's, which takes the same words.
 * Undefined for a container only Kubernetes or containerd knows: no command
 * on the host names it, nor its pod.
 */
export function containerLogOrigin(c: Container, sinceMs: number): LogOrigin | undefined {
  if (c.runtime !== 'docker' && c.runtime !== 'podman') return undefined
  return { command: [c.runtime, 'logs', '-f', '--since', formatTs(sinceMs), c.id] }
}
