import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const VMSTAT_KEYS = new Set(['pswpin', 'pswpout', 'pgmajfault', 'oom_kill'])

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1')
  } catch {
    return undefined
  }
}

/** The Linux kernel's memory sources as the renderer reads them, or notes of what failed. */
export function linuxSystemText(procRoot = '/proc'): { text: string; errors: string[] } {
  const errors: string[] = []
  let text = ''
  const meminfo = read(join(procRoot, 'meminfo'))
  if (meminfo) text += meminfo.endsWith('\n') ? meminfo : `${meminfo}\n`
  else errors.push(`cannot read ${procRoot}/meminfo`)
  const psi = read(join(procRoot, 'pressure', 'memory'))
  if (psi) text += psi.endsWith('\n') ? psi : `${psi}\n`
  const vmstat = read(join(procRoot, 'vmstat'))
  if (vmstat) {
    for (const line of vmstat.split('\n')) {
      const sp = line.indexOf(' ')
      if (sp > 0 && VMSTAT_KEYS.has(line.slice(0, sp))) text += `${line}\n`
    }
  }
  return { text, errors }
}

/** Where a process's memory cgroup lives, v2 or v1; undefined for the root one. */
export interface CgroupRef {
  version: 1 | 2
  /** The cgroup's path inside the hierarchy, e.g. /system.slice/docker-ab12.scope */
  path: string
  /** Directory holding its memory.* files. */
  dir: string
}

/**
 * The memory cgroup of a process (a PID, or `self`). `0::/` is the root of
 * the reader's cgroup namespace: on the host that is the host itself (the
 * root cgroup has no `memory.max`), and it is skipped; inside a container or
 * a pod, where memtrace runs in its own cgroup namespace, it is the
 * container's cgroup, whose files are at the root of `/sys/fs/cgroup`.
 */
export function memoryCgroup(pid: number | 'self', procRoot = '/proc', cgroupRoot = '/sys/fs/cgroup'): CgroupRef | undefined {
  const text = read(join(procRoot, String(pid), 'cgroup'))
  if (!text) return undefined
  for (const line of text.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? []
    if (controllers === '' && path === '/' && existsSync(join(cgroupRoot, 'memory.max')) && existsSync(join(cgroupRoot, 'memory.current'))) return { version: 2, path: '/', dir: cgroupRoot }
    if (path === undefined || path === '/' || path === '') continue
    if (controllers !== undefined && controllers.split(',').includes('memory')) {
      for (const dir of [join(cgroupRoot, 'memory', path), join(cgroupRoot, path)]) {
        if (existsSync(join(dir, 'memory.usage_in_bytes'))) return { version: 1, path, dir }
      }
    }
    if (controllers === '') {
      for (const dir of [join(cgroupRoot, path), join(cgroupRoot, 'unified', path)]) {
        if (existsSync(join(dir, 'memory.current'))) return { version: 2, path, dir }
      }
    }
  }
  return undefined
}

/** memtrace's own cgroup when it is the root of its cgroup namespace (memtrace in a container or pod), else undefined. */
export function namespaceCgroup(procRoot = '/proc', cgroupRoot = '/sys/fs/cgroup'): CgroupRef | undefined {
  const own = memoryCgroup('self', procRoot, cgroupRoot)
  return own?.path === '/' ? own : undefined
}

const V2_FILES = ['memory.current', 'memory.max', 'memory.peak', 'memory.swap.current', 'memory.pressure']
const V1_FILES = ['memory.usage_in_bytes', 'memory.limit_in_bytes', 'memory.max_usage_in_bytes', 'memory.memsw.usage_in_bytes']

/** The cgroup's memory files in the `grep -H . memory.*` layout the renderer reads. */
export function cgroupText(cg: CgroupRef): string {
  let text = `cgroup: ${cg.path}\n`
  for (const f of cg.version === 2 ? V2_FILES : V1_FILES) {
    const v = read(join(cg.dir, f))
    if (v === undefined) continue
    for (const line of v.split('\n')) if (line) text += `${join(cg.dir, f)}:${line}\n`
  }
  return text
}
