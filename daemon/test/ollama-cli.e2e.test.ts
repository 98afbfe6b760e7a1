/**
 * `ollama ps` is run by the real path of the `ollama` on PATH: on macOS
 * `/usr/local/bin/ollama` links into Ollama.app, and the CLI started through
 * that link relaunches the app when the server does not answer.
 */
import t from 'tap'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { appCli, exited, foreground, read, sleep } from './helpers.js'

t.test('ollama ps is run by the real path behind the link on PATH', async t => {
  const dir = t.testdir({})
  const { real, links, calls } = appCli(dir, 'Ollama.app')
  const api = createServer((_q, r) => r.end('{"models":[]}'))
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  t.teardown(() => api.close())
  const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`
  const d = foreground(['--dir', join(dir, 'trace'), '--ollama-url', url, '--system-interval', '1s'], { PATH: `${links}:${process.env.PATH}` })
  await sleep(2500)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const lines = read(calls).trim().split('\n')
  t.ok(lines.length >= 2, `asked ${lines.length} times`)
  t.same([...new Set(lines)], [`${real} ps`], 'by its real path, never the link')
})
