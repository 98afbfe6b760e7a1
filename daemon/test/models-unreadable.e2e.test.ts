/**
 * A models folder memtrace may not read (a service user's at 0750, root's
 * home at 0700) is said once, with the folder and the user it needs, instead
 * of the runner being left to the renderer's match by size. The daemon runs
 * as an unprivileged user here (as `nobody` when the tests run as root), and
 * the runner's weights are under /root, which such a user cannot enter.
 */
import t from 'tap'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { BIN, exited, read, traceFiles, until } from './helpers.js'

const root = process.getuid?.() === 0
t.test('an unreadable models folder is said once, with the path and the user it needs', { skip: process.platform !== 'linux' && 'Linux only' }, async t => {
  const dir = t.testdir({})
  chmodSync(dir, 0o777)
  const blob = `/root/.ollama/models/blobs/sha256-${'ab'.repeat(32)}`
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'ollama'), '#!/bin/sh\nsleep 8\n')
  chmodSync(join(bin, 'ollama'), 0o755)
  const runner = spawn('/bin/sh', [join(bin, 'ollama'), 'runner', '--ollama-engine', '--model', blob, '--port', '51998'], { stdio: 'ignore' })
  t.teardown(() => runner.kill('SIGKILL'))
  const trace = join(dir, 'trace')
  const args = [BIN, 'start', '--foreground', '--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--system-interval', '1s']
  const env = { ...process.env, HOME: dir, OLLAMA_MODELS: '' }
  const d = root ? spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args], { env, stdio: 'ignore' }) : spawn(process.execPath, args, { env, stdio: 'ignore' })
  t.teardown(() => d.kill('SIGKILL'))
  const said = await until(() => {
    try {
      const text = read(traceFiles(trace).sys)
      return text.includes('/root/.ollama/models') ? text : undefined
    } catch {
      return undefined
    }
  }, 15_000, 'the models folder to be said')
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  // Other tests' stand-ins run beside this one, and their folders may be said too: this one is said once.
  const lines = read(traceFiles(trace).sys).split('\n').filter(l => l.includes('"source":"models"') && l.includes('/root/.ollama/models'))
  t.equal(lines.length, 1, 'said once')
  const message = (JSON.parse((lines[0] as string).replace(/^memtrace source-error /, '')) as { message: string }).message
  t.match(message, /^cannot read the models folder \/root\/\.ollama\/models \(\/root is not open to it\): owner root, group root, mode 07\d0, and memtrace runs as \S+\. .*Run memtrace as root \(sudo memtrace start\)\.$/m)
  t.notMatch(message, /to group root/, 'no advice to join the root group')
  t.ok(said)
})
