/**
 * Where each of several `ollama serve` answers: its environment's
 * OLLAMA_HOST, Ollama's default when it has none, `OLLAMA_HOST=…` on the
 * command line that launched it, and, where none can be read, said once with
 * the users involved (the only such server is taken to be --ollama-url's).
 * Read from a fake /proc, as the daemon reads the real one.
 */
import t from 'tap'
import { ServerAddresses } from '../server-addresses.js'

const env = (vars: Record<string, string>) => Object.entries(vars).map(([k, v]) => `${k}=${v}\u0000`).join('')

t.test('each server by its environment, else the launching command line, else said once', async t => {
  const dir = t.testdir({
    '100': { environ: env({ HOME: '/usr/share/ollama', OLLAMA_HOST: '0.0.0.0:11435', CUDA_VISIBLE_DEVICES: '1' }) },
    '200': { environ: env({ HOME: '/usr/share/ollama', PATH: '/usr/bin' }) },
    '300': {}, // no environ to read: another user's server
    '400': {},
    '500': { environ: env({ OLLAMA_HOST: ':11437' }) },
  })
  const said: string[] = []
  const a = new ServerAddresses(dir, 'http://127.0.0.1:11434', m => said.push(m))
  const serve = (pid: number, ppid = 1) => ({ pid, ppid, command: '/usr/local/bin/ollama serve', startTicks: pid })
  const all = [serve(100), serve(200), { pid: 290, ppid: 1, command: 'sudo OLLAMA_HOST=127.0.0.1:11436 ollama serve' }, serve(300, 290), serve(400), serve(500)]
  const got = a.resolve([serve(100), serve(200), serve(300, 290), serve(400), serve(500)], all)
  t.same(
    got.map(s => [s.pid, s.address, s.via, s.url]),
    [
      [100, '127.0.0.1:11435', 'environ', 'http://127.0.0.1:11435'],
      [200, '127.0.0.1:11434', 'default', 'http://127.0.0.1:11434'],
      [300, '127.0.0.1:11436', 'argv', 'http://127.0.0.1:11436'],
      [500, '127.0.0.1:11437', 'environ', 'http://127.0.0.1:11437'],
    ],
    "0.0.0.0 is asked on this host; no OLLAMA_HOST is Ollama's default; sudo's command line gives the third; :PORT is this host's",
  )
  t.equal(said.length, 1, 'the server whose address cannot be known is said')
  t.match(said[0], /^cannot read the environment of ollama serve \(pid 400, user \S+; memtrace runs as \S+\), so its address \(OLLAMA_HOST\) is unknown: its listings are not asked for/)
  t.notMatch(said[0], /--ollama-url names/, "--ollama-url's address is another server's: it is not taken for this one")
  a.resolve([serve(100), serve(400)], all)
  t.equal(said.length, 1, 'said once')
})

t.test('the only server whose environment cannot be read is the one --ollama-url names', async t => {
  const dir = t.testdir({ '100': { environ: env({ OLLAMA_HOST: '127.0.0.1:11435' }) }, '300': {} })
  const said: string[] = []
  const a = new ServerAddresses(dir, 'http://127.0.0.1:11434', m => said.push(m))
  const got = a.resolve([{ pid: 100, ppid: 1, command: 'ollama serve' }, { pid: 300, ppid: 1, command: 'ollama serve' }], [])
  t.same(got.map(s => [s.pid, s.address, s.via]), [[100, '127.0.0.1:11435', 'environ'], [300, '127.0.0.1:11434', 'option']])
  t.match(said[0], /it is taken to be the one --ollama-url names \(http:\/\/127\.0\.0\.1:11434\)\. sudo memtrace start would read it\.$/)
})
