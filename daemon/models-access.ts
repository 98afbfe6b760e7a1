import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { userInfo } from 'node:os'
import { resolve, sep } from 'node:path'

/** The first folder on a path that this user may not enter or list, with its owner and mode. */
export interface Unreadable {
  folder: string
  owner: string
  group: string
  /** `0750` */
  mode: string
}

/**
 * Why a models folder cannot be read: walks from `/` down to `path` and
 * returns the first folder this process may not list and enter (`/root` at
 * 0700, a service user's `/usr/share/ollama/.ollama/models` at 0750).
 * Undefined when it can be read, or when it does not exist.
 */
export function unreadableFolder(path: string, etc = '/etc'): Unreadable | undefined {
  const parts = resolve(path).split(sep).filter(Boolean)
  let cur = ''
  for (const part of ['', ...parts]) {
    cur = part === '' ? sep : cur === sep ? `${sep}${part}` : `${cur}${sep}${part}`
    try {
      accessSync(cur, constants.R_OK | constants.X_OK)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code !== 'EACCES' && code !== 'EPERM') return undefined
      try {
        const st = statSync(cur)
        return { folder: cur, owner: nameOf(etc, 'passwd', st.uid), group: nameOf(etc, 'group', st.gid), mode: `0${(st.mode & 0o777).toString(8)}` }
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

/** A user or group name from /etc/passwd or /etc/group; the number where none is found. */
export function nameOf(etc: string, file: 'passwd' | 'group', id: number): string {
  try {
    for (const line of readFileSync(`${etc}/${file}`, 'utf8').split('\n')) {
      const f = line.split(':')
      if (f[2] === String(id) && f[0]) return f[0]
    }
  } catch {
    // no such file: the number stands
  }
  return String(id)
}

/** The sentence the daemon says once per folder. */
export function unreadableMessage(dir: string, u: Unreadable): string {
  let me: string
  try {
    me = userInfo().username
  } catch {
    me = String(process.getuid?.() ?? 'this user')
  }
  const inside = u.folder === resolve(dir) ? '' : ` (${u.folder} is not open to it)`
  return (
    `cannot read the models folder ${dir}${inside}: owner ${u.owner}, group ${u.group}, mode ${u.mode}, and memtrace runs as ${me}. ` +
    `Runners whose weights are there are named by matching what /api/ps lists by time and size instead of by their manifests. ` +
    `Run memtrace as ${u.owner === 'root' ? 'root' : `${u.owner} or root`} (sudo memtrace start)${u.group === 'root' ? '' : `, or add ${me} to group ${u.group}`}.`
  )
}

/**
 * Whether `dir` may be trusted as a models folder: a directory owned by one
 * of `uids` (root, memtrace's user, the server's) that no other user may
 * write to. A folder under /tmp made by anyone is not. One this user cannot
 * even look at is kept (nothing of it can be read) so that it is said to be
 * closed, with what would open it.
 */
export function ownedModelsDir(dir: string, uids: Set<number>): boolean {
  try {
    const st = statSync(dir)
    return st.isDirectory() && uids.has(st.uid) && (st.mode & 0o002) === 0
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'EACCES' || code === 'EPERM'
  }
}
