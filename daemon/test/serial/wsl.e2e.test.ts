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
import { createServer } from 'node:http'
import { join } from 'node:path'
import { deadUrl, memtrace, read, standinServer, traceFiles, until } from '../helpers.js'

const FAST = ['--interval', '1s', '--system-interval', '1s']
/** A --match no process on this machine has: Ollama is not here. */
const NOTHING_HERE = ['--match', '^memtrace-no-such-process-[0-9]{9}$']
const WSL2 = '5.15.167.4-microsoft-standard-WSL2\n'

/** What Ollama on Windows answers at /api/ps with nothing loaded. */
async function windowsOllama(t: Test): Promise<string> {
  const api = createServer((q, r) => {
    r.setHeader('Content-Type', 'application/json; charset=utf-8')
    r.end(q.url === '/api/ps' ? '{"models":[]}' : 'Ollama is running')
  })
  await new Promise<void>(ok => api.listen(0, '127.0.0.1', ok))
  t.teardown(() => void api.close())
  return `http://127.0.0.1:${(api.address() as { port: number }).port}`
}

/** A daemon run for about 4 s with the kernel release given; the trace's WSL lines and the rendered chart's text. */
async function run(t: Test, release: string, args: string[]) {
  t.teardown(() => void memtrace(['stop', '--dir', join(t.testdirName, 'trace')]))
  const dir = t.testdir({ osrelease: release })
  const trace = join(dir, 'trace')
  const env = { MEMTRACE_OSRELEASE: join(dir, 'osrelease') }
  const start = memtrace(['start', '--dir', trace, ...FAST, ...args], env)
  t.equal(start.code, 0, start.stderr)
  await until(() => (/samples: \d+ process \(\d+ rows\), [4-9]\d* system/.test(memtrace(['status', '--dir', trace]).stdout) ? true : undefined), 15_000, 'four system samples')
  const status = memtrace(['status', '--dir', trace]).stdout
  t.equal(memtrace(['stop', '--dir', trace]).code, 0)
  const sys = read(traceFiles(trace).sys)
  const lines = sys.match(/memtrace source-error \{[^\n]*"source":"wsl"[^\n]*/g) ?? []
  const svg = join(dir, 'chart.svg')
  const r = memtrace(['render', '--dir', trace, '-o', svg, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  return { lines, status, chart: read(svg), log: read(join(trace, 'memtrace.log')) }
}

t.test('WSL2, no Ollama process, Ollama answers: said once that it is Ollama on Windows, in the trace, the log and the chart', async t => {
  const url = await windowsOllama(t)
  const { lines, chart, log } = await run(t, WSL2, ['--ollama-url', url, ...NOTHING_HERE])
  t.equal(lines.length, 1, 'once, however many samples')
  t.match(lines[0], new RegExp(`no Ollama process runs in this WSL2 distribution, yet Ollama answers at ${url.replace(/\./g, '\\.')}: that is probably Ollama on Windows`))
  t.match(log, /probably Ollama on Windows/, 'in the daemon log')
  t.match(chart, /Recorded under WSL2: no Ollama process runs in this WSL2 distribution, yet Ollama answers/, 'on the chart, where the empty panel would otherwise say nothing')
})

t.test('WSL2, no Ollama process and none answers: said once that Ollama probably runs on Windows', async t => {
  const { lines } = await run(t, WSL2, ['--ollama-url', await deadUrl(), ...NOTHING_HERE])
  t.equal(lines.length, 1)
  t.match(lines[0], /no Ollama process runs in this WSL2 distribution and none answers at http:\/\/127\.0\.0\.1:\d+: Ollama is probably running on Windows/)
})

t.test('not WSL2 (a Debian kernel, or WSL1): nothing is said', async t => {
  for (const release of ['6.1.0-26-amd64\n', '4.4.0-19041-Microsoft\n']) {
    await t.test(release.trim(), async t => {
      const { lines, chart } = await run(t, release, ['--ollama-url', await windowsOllama(t), ...NOTHING_HERE])
      t.same(lines, [])
      t.notMatch(chart, /WSL2/)
    })
  }
})

t.test('WSL2 with Ollama inside the distribution: its server is seen, nothing is said', async t => {
  const s = await standinServer(t, {})
  const { lines } = await run(t, WSL2, ['--ollama-url', s.url])
  t.same(lines, [])
})
