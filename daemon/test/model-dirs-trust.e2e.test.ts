/**
 * A runner's --model path names the models folder whose manifests the daemon
 * reads, and any local user can start a process called `ollama runner`. The
 * root daemon reads a folder only when the runner is a server's child, or the
 * folder is root's, its own user's or a server's user's and open to no one
 * else; and every manifest read is bounded, off the sampling tick: a planted
 * 300 MB manifest, a FIFO or a link to /dev/zero costs no memory and no tick.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DaemonStatus } from '../status-file.js'
import { exited, foreground, read, sleep, traceFiles, until } from './helpers.js'

const root = process.getuid?.() === 0
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups']
const HEX = 'c0ffee'.repeat(10) + 'c0ff'

/** As user nobody, the other local user. */
function asOther(cmd: string, args: string[]): void {
  const r = spawnSync('setpriv', [...NOBODY, cmd, ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
}

/** A models folder at `models` as `run` makes it: one manifest naming the blob, a 300 MB sparse one, a FIFO and a link to /dev/zero beside it. */
function plant(models: string, run: (cmd: string, args: string[]) => void): string {
  const tag = join(models, 'manifests', 'h', 'n', 'm')
  run('mkdir', ['-p', tag, join(models, 'blobs')])
  const manifest = JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${HEX}`, size: 1 }] })
  run('sh', ['-c', `printf '%s' '${manifest}' > ${join(tag, 't')}`])
  run('truncate', ['-s', '300M', join(tag, 'big')])
  run('mkfifo', [join(tag, 'fifo')])
  run('ln', ['-s', '/dev/zero', join(tag, 'zero')])
  return join(models, 'blobs', `sha256-${HEX}`)
}

/** A runner as the attacker starts it: a script named ollama with a runner's argv. */
function runner(dir: string, blob: string, port: number) {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  writeFileSync(join(bin, 'ollama'), '#!/bin/sh\nsleep 20\n')
  chmodSync(join(bin, 'ollama'), 0o755)
  const args = [join(bin, 'ollama'), 'runner', '--ollama-engine', '--model', blob, '--port', String(port)]
  return root ? spawn('setpriv', [...NOBODY, '/bin/sh', ...args], { stdio: 'ignore' }) : spawn('/bin/sh', args, { stdio: 'ignore' })
}

/** The daemon traces for a while; returns its trace, its peak memory and its status. */
async function trace(t: Test, dir: string) {
  const home = join(dir, 'home')
  mkdirSync(home, { recursive: true })
  const out = join(dir, 'trace')
  const d = foreground(['--dir', out, '--interval', '1s', '--system-interval', '1s', '--ollama-url', 'http://127.0.0.1:9'], { HOME: home, OLLAMA_MODELS: '' })
  t.teardown(() => d.kill('SIGKILL'))
  await until(() => {
    try {
      return traceFiles(out)
    } catch {
      return undefined
    }
  }, 10_000, 'the trace')
  await sleep(6000)
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(read(`/proc/${d.pid}/status`))?.[1])
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const status = JSON.parse(readFileSync(join(out, 'memtrace.status.json'), 'utf8')) as DaemonStatus
  return { sys: read(traceFiles(out).sys), proc: read(traceFiles(out).proc), hwmMiB: hwm / 1024, status }
}

t.test("another user's models folder, named by a runner no server started, is never read", { skip: (process.platform !== 'linux' || !root) && 'Linux, as root (a second user is needed)' }, async t => {
  const dir = t.testdir({})
  // World-writable and sticky, as /tmp is: the other user makes their folder in it.
  chmodSync(dir, 0o1777)
  const blob = plant(join(dir, 'e'), asOther)
  const r = runner(dir, blob, 51997)
  t.teardown(() => r.kill('SIGKILL'))
  const { sys, proc, hwmMiB, status } = await trace(t, dir)
  t.ok(proc.includes(`--model ${blob}`), 'the runner is traced')
  t.notMatch(sys, /memtrace runner \{[^}]*"model":"h\/n\/m:t"/, 'not named from their manifests')
  t.ok(hwmMiB < 200, `peak memory ${hwmMiB.toFixed(0)} MiB, under 200`)
  t.same(status.missedTicks, { process: 0, system: 0 }, 'no tick missed')
})

t.test('a models folder of root: named from its manifest, the huge one, the FIFO and the link skipped', { skip: (process.platform !== 'linux' || !root) && 'Linux, as root' }, async t => {
  const dir = t.testdir({})
  const blob = plant(join(dir, 'models'), (cmd, args) => {
    const res = spawnSync(cmd, args, { encoding: 'utf8' })
    if (res.status !== 0) throw new Error(res.stderr)
  })
  chmodSync(dir, 0o755)
  const r = runner(dir, blob, 51996)
  t.teardown(() => r.kill('SIGKILL'))
  const { sys, hwmMiB, status } = await trace(t, dir)
  t.match(sys, /memtrace runner \{[^}]*"model":"h\/n\/m:t"/, 'named from the manifest beside its blob')
  t.ok(hwmMiB < 200, `peak memory ${hwmMiB.toFixed(0)} MiB, under 200`)
  t.same(status.missedTicks, { process: 0, system: 0 }, 'no tick missed')
})
