/**
 * The bench's guardian: a small process of its own session that outlives a
 * bench killed with SIGKILL (which no handler sees) and ends what it
 * started. The bench tells it, a line at a time on a pipe only the bench
 * holds, which server process groups and which daemons are running; the
 * kernel closes that pipe when the bench dies, however it dies. At the end
 * of the pipe, unless told `done`, the guardian kills each server's group
 * and every descendant of the server (a runner that left the group too),
 * and stops each daemon as `memtrace stop` does. Run by `guard.ts`.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../bin/memtrace.js', import.meta.url))

/** Server PIDs (each the leader of its group) and daemon directories still running. */
const servers = new Set<number>()
const daemons = new Set<string>()
let done = false

/** `server PID`, `server-gone PID`, `daemon DIR`, `daemon-gone DIR`, `done`. */
function line(text: string): void {
  const m = /^(server|server-gone|daemon|daemon-gone|done)(?: (.+))?$/.exec(text)
  if (!m) return
  const [, what, arg = ''] = m
  if (what === 'done') done = true
  else if (what === 'server' && /^\d+$/.test(arg)) servers.add(Number(arg))
  else if (what === 'server-gone') servers.delete(Number(arg))
  else if (what === 'daemon' && arg !== '') daemons.add(arg)
  else if (what === 'daemon-gone') daemons.delete(arg)
}

/** Every descendant of `roots`, from `ps` (Linux and macOS alike). */
function descendants(roots: Iterable<number>): number[] {
  const ps = spawnSync('ps', ['-axo', 'pid=,ppid='], { encoding: 'utf8' })
  const rows = (ps.stdout ?? '').split('\n').map(l => /^\s*(\d+)\s+(\d+)/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map(m => [Number(m[1]), Number(m[2])] as const)
  const found = new Set<number>(roots)
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, ppid] of rows) if (found.has(ppid) && !found.has(pid)) (found.add(pid), (grew = true))
  }
  for (const r of roots) found.delete(r)
  return [...found]
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone already
  }
}

/** A `memtrace start --dir DIR` still running: its daemon may not have taken the lock yet. */
function starting(dir: string): boolean {
  const ps = spawnSync('ps', ['-axo', 'args='], { encoding: 'utf8' })
  return (ps.stdout ?? '').split('\n').some(l => / start /.test(l) && l.includes(BIN) && l.includes(`--dir ${dir}`) && !l.includes('--daemonized'))
}

/**
 * Time for a start the bench had spawned as it died to be seen as one: until
 * it runs memtrace, a forked process shows the bench's own command line (a
 * window a loaded machine stretches to seconds).
 */
const START_SEEN_MS = 3_000

/**
 * Stops the daemon tracing into `dir`, as `memtrace stop` does. A bench
 * killed during `memtrace start` leaves that start running, and its daemon
 * takes the lock only later: while the start runs (it gives up on its daemon
 * after 10 s), or may yet show as one, a stop that found no daemon is tried
 * again.
 */
function stopDaemon(dir: string): void {
  const stop = () => spawnSync(process.execPath, [BIN, 'stop', '--dir', dir], { stdio: 'ignore', timeout: 30_000 }).status === 0
  const began = Date.now()
  for (;;) {
    if (stop() || Date.now() > began + 12_000) return
    if (Date.now() > began + START_SEEN_MS && !starting(dir)) {
      // A start that ended between that stop and this look left its daemon up, lock taken: one more stop ends it.
      stop()
      return
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250)
  }
}

function end(): void {
  if (!done) {
    const kids = descendants(servers)
    for (const pid of servers) kill(-pid)
    for (const pid of kids) kill(pid)
    for (const dir of daemons) stopDaemon(dir)
  }
  process.exit(0)
}

let buf = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  buf += chunk
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    line(buf.slice(0, i))
    buf = buf.slice(i + 1)
  }
})
process.stdin.on('end', end)
process.stdin.on('error', end)
// Of its own session, it has no terminal; a hang-up sent to it anyway must not end it before the bench.
process.on('SIGHUP', () => undefined)
