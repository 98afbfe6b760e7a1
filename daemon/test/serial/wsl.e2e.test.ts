/**
 * memtrace under WSL2 with Ollama on the Windows side: the daemon sees no
 * Ollama process, and reaches Ollama's API only where 127.0.0.1 is
 * forwarded to Windows. It says once why the chart is empty. The kernel
 * release is read from MEMTRACE_OSRELEASE here, holding what a WSL2 kernel
 * reports in /proc/sys/kernel/osrelease (Microsoft's WSL2 kernels are named
 * `<version>-microsoft-standard-WSL2`, as in microsoft/WSL2-Linux-Kernel's
 * release tags and in `uname -r` output pasted into microsoft/WSL issues).
 * Serial: any `ollama serve` on the host is traced, whatever --match says,
 * and other tests run the stand-in's.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deadUrl, memtrace, read, standinServer, traceFiles, until } from '../helpers.js'

const FAST = ['--interval', '1s', '--system-interval', '1s']
/** A --match no process on this machine has: Ollama is not here. */
const NOTHING_HERE = ['--match', '^memtrace-no-such-process-[0-9]{9}$']
const WSL2 = '5.15.167.4-microsoft-standard-WSL2\n'

/**
 * What Ollama on Windows answers at /api/ps with nothing loaded, from a
 * process of its own (as Windows' Ollama is): this test's own loop waits on
 * the memtrace commands it runs, and would leave the daemons unanswered.
 */
async function windowsOllama(t: Test): Promise<string> {
  const code = `const s = require('node:http').createServer((q, r) => { r.setHeader('Content-Type', 'application/json; charset=utf-8'); r.end(q.url === '/api/ps' ? '{"models":[]}' : 'Ollama is running') }); s.listen(0, '127.0.0.1', () => console.log(s.address().port))`
  const api = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void api.kill())
  const port = await new Promise<string>(ok => api.stdout.once('data', (d: Buffer) => ok(d.toString().trim())))
  return `http://127.0.0.1:${port}`
}

/** A daemon started with the kernel release given, in a folder of its own under `dir`. */
function begin(t: Test, dir: string, name: string, release: string, args: string[]) {
  const here = join(dir, name)
  mkdirSync(here)
  writeFileSync(join(here, 'osrelease'), release)
  const trace = join(here, 'trace')
  const start = memtrace(['start', '--dir', trace, ...FAST, ...args], { MEMTRACE_OSRELEASE: join(here, 'osrelease') })
  t.equal(start.code, 0, `${name}: ${start.stderr}`)
  return trace
}

/** Stops it after three system samples (the notice comes at the second): its WSL lines, its log and its chart's text. */
async function finish(t: Test, trace: string) {
  const systemSamples = () => {
    try {
      return (JSON.parse(read(join(trace, 'memtrace.status.json'))) as { systemSamples: number }).systemSamples
    } catch {
      return 0 // not written yet
    }
  }
  await until(() => (systemSamples() >= 3 ? true : undefined), 20_000, 'three system samples')
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
  const lines = read(traceFiles(trace).sys).match(/memtrace source-error \{[^\n]*"source":"wsl"[^\n]*/g) ?? []
  const svg = join(trace, '..', 'chart.svg')
  const r = memtrace(['render', '--dir', trace, '-o', svg, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  return { lines, chart: read(svg), log: read(join(trace, 'memtrace.log')) }
}

// One test, every case at once: each is a daemon of its own, and they run side by side (a few seconds, not a minute).
t.test('under WSL2 with no Ollama process, said once where Ollama probably is; nothing said elsewhere', async t => {
  const names = ['answers', 'silent', 'debian', 'wsl1', 'inside']
  t.teardown(() => {
    for (const n of names) memtrace(['stop', '--dir', join(t.testdirName, n, 'trace')])
  })
  const dir = t.testdir({})
  const windows = await windowsOllama(t)
  const dead = await deadUrl()
  // First the cases with no Ollama process at all (any `ollama serve` on the host would be seen by every daemon) …
  const traces = {
    answers: begin(t, dir, 'answers', WSL2, ['--ollama-url', windows, ...NOTHING_HERE]),
    silent: begin(t, dir, 'silent', WSL2, ['--ollama-url', dead, ...NOTHING_HERE]),
    debian: begin(t, dir, 'debian', '6.1.0-26-amd64\n', ['--ollama-url', windows, ...NOTHING_HERE]),
    wsl1: begin(t, dir, 'wsl1', '4.4.0-19041-Microsoft\n', ['--ollama-url', windows, ...NOTHING_HERE]),
  }
  const got: Record<string, Awaited<ReturnType<typeof finish>>> = Object.fromEntries(await Promise.all(Object.entries(traces).map(async ([n, trace]) => [n, await finish(t, trace)] as const)))
  // … then Ollama inside the distribution: the stand-in's server is seen.
  const inside = await standinServer(t, {})
  got.inside = await finish(t, begin(t, dir, 'inside', WSL2, ['--ollama-url', inside.url]))

  const a = got.answers!
  t.equal(a.lines.length, 1, 'Ollama answers: said once, however many samples')
  t.match(a.lines[0], new RegExp(`no Ollama process runs in this WSL2 distribution, yet Ollama answers at ${windows.replace(/\./g, '\\.')}: that is probably Ollama on Windows`))
  t.match(a.log, /probably Ollama on Windows/, 'in the daemon log')
  t.match(a.chart, /Recorded under WSL2: no Ollama process runs in this WSL2 distribution, yet Ollama answers/, 'on the chart, where the empty panel would otherwise say nothing')

  const s = got.silent!
  t.equal(s.lines.length, 1, 'nothing answers: said once')
  t.match(s.lines[0], /no Ollama process runs in this WSL2 distribution and none answers at http:\/\/127\.0\.0\.1:\d+: Ollama is probably running on Windows/)

  for (const n of ['debian', 'wsl1', 'inside']) {
    const g = got[n]!
    t.same(g.lines, [], `${n}: nothing said`)
    t.notMatch(g.chart, /WSL2/, `${n}: nothing on the chart`)
  }
})
