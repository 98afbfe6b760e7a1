import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs'
import { createServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Test } from 'tap'
import { memtrace as runMemtrace } from '../../core/test/helpers.js'
import { fileURLToPath } from 'node:url'
import { installStandin } from '../../standin/install.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const BIN = join(ROOT, 'dist', 'bin', 'memtrace.js')

/** The memtrace command as a user runs it (the renderer tests' helper, with an environment). */
export function memtrace(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runMemtrace(args, { env })
}

/** A daemon in the foreground, as a service manager would run it. */
export function foreground(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [BIN, 'start', '--foreground', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
}

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

export async function until<T>(fn: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

export function traceFiles(dir: string): { proc: string; sys: string } {
  const names = readdirSync(dir)
  const proc = names.filter(n => n.endsWith('.tsv')).sort().pop()
  const sys = names.filter(n => n.endsWith('.log') && n.startsWith('system-')).sort().pop()
  if (!proc || !sys) throw new Error(`no traces in ${dir}: ${names.join(', ')}`)
  return { proc: join(dir, proc), sys: join(dir, sys) }
}

export function read(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise(r => {
    if (child.exitCode !== null || child.signalCode !== null) return r({ code: child.exitCode, signal: child.signalCode })
    child.once('exit', (code, signal) => r({ code, signal }))
  })
}

/** The process has exited (a zombie waiting for its reaper counts as exited). */
export function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
  } catch {
    return true
  }
}

/** A loopback URL nothing listens on: a server that is down. */
export async function deadUrl(): Promise<string> {
  const s = createServer()
  await new Promise<void>(ok => s.listen(0, '127.0.0.1', ok))
  const url = `http://127.0.0.1:${(s.address() as { port: number }).port}`
  await new Promise(ok => s.close(ok))
  return url
}

/** A small tmpfs for the test, unmounted (lazily: an open descriptor must not keep it) when it ends. */
export function smallDisk(t: Test, size: string): string {
  const mnt = mkdtempSync(join(tmpdir(), 'memtrace-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt])
  t.teardown(() => {
    execFileSync('umount', ['-l', mnt])
    rmdirSync(mnt)
  })
  return mnt
}

/** Writes a filler file at `path` until the filesystem is full. */
export function fill(path: string): void {
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(4096, 'x')
  try {
    for (;;) writeSync(fd, chunk)
  } catch {
    /* full */
  } finally {
    closeSync(fd)
  }
}

/**
 * The stand-in's server with the given settings; its runners as `ps` sees
 * them. Servers given one `install` (a stand-in installed by the caller)
 * share its stand-in GPU.
 */
export async function standinServer(t: Test, extraEnv: Record<string, string>, models = ['llama3.2:3b', 'qwen2.5-coder:7b'], install?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'memtrace-standin-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const ollama = install ? join(install, 'bin', 'ollama') : installStandin(join(dir, 'standin')).ollama
  const port = 20000 + Math.floor(Math.random() * 20000)
  const env = { ...process.env, OLLAMA_HOST: `127.0.0.1:${port}`, OLLAMA_MODELS: join(dir, 'models'), OLLAMA_STANDIN_SCALE: '0.01', ...extraEnv }
  spawnSync(ollama, ['pull', ...models], { env })
  // Its stderr is its server log, as Ollama's is.
  const logPath = join(dir, 'server.log')
  const logFd = openSync(logPath, 'a')
  const server = spawn(ollama, ['serve'], { env, stdio: ['ignore', 'ignore', logFd] })
  closeSync(logFd)
  // Waited for: a server still stopping when the next test starts is a second server to that test's daemon.
  t.teardown(() => stopChild(server))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100 && !(await fetch(url).then(() => true, () => false)); i++) await sleep(50)
  const post = async (body: object) => (await fetch(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ stream: false, ...body }) })).json() as Promise<Record<string, unknown>>
  const ps = async () => ((await (await fetch(`${url}/api/ps`)).json()) as { models: Record<string, unknown>[] }).models
  const runners = () =>
    spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(server.pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(l => l.includes('--model'))
  return { post, ps, runners, url, ollama, env, server, logPath }
}

/** Ends a child (SIGTERM, then SIGKILL after 10 s) and waits until it has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise(ok => child.once('exit', ok))
  child.kill()
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await gone
  clearTimeout(timer)
}

/** A loopback port free at the moment of asking. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createTcpServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => ok(typeof a === 'object' && a ? a.port : 0))
    })
  })
}

/**
 * The macOS app's CLI as Ollama installs it: a script inside `APP/Contents/Resources/`
 * that logs how it was called (`$0 $*`), and `/usr/local/bin/ollama`'s stand-in,
 * a folder for PATH holding a link to it.
 */
export function appCli(dir: string, app: string): { real: string; links: string; calls: string } {
  const res = join(dir, app, 'Contents', 'Resources')
  mkdirSync(res, { recursive: true })
  const calls = join(dir, 'cli-calls')
  const real = join(res, 'ollama')
  writeFileSync(real, `#!/bin/sh\necho "$0 $*" >> '${calls}'\necho 'NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL '\n`)
  chmodSync(real, 0o755)
  const links = join(dir, 'usr-local-bin')
  mkdirSync(links)
  symlinkSync(real, join(links, 'ollama'))
  return { real, links, calls }
}

/** The real server logs of the parser's fixtures (core/test/fixtures/server-log), each as its name and lines. */
export function serverLogFixtures(): { name: string; lines: string[] }[] {
  const dir = join(ROOT, 'core', 'test', 'fixtures', 'server-log')
  return readdirSync(dir)
    .filter(f => f.endsWith('.txt'))
    .map(name => ({ name, lines: readFileSync(join(dir, name), 'utf8').split('\n') }))
}
