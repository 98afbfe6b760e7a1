// The renderer against input and surroundings that try to break it:
// endless lines, special files, numbers past any real machine, terminal
// escapes, outputs that are inputs, closed pipes, mismatched trace pairs.
import t from 'tap'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, memtrace, ROOT } from '../../core/test/helpers.js'
import { LineWriter } from '../parse-command.js'

const SAMPLE = join(ROOT, 'samples', 'mac-model-switch')
const PROC = join(SAMPLE, 'ollama-process-memtrace-20260225-140300.tsv')
const SYS = join(SAMPLE, 'system-memtrace-20260225-140300.log')
const HEAD = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
const ROW = '2026-02-25T14:00:00Z\t10\t1\tollama\t50000\t1\tollama serve\n'
const BLOCK = '===== 2026-02-25T14:00:00Z =====\nSystem-wide memory free percentage: 60%\n'

/** Runs memtrace with its stdout closed by the reader before anything is written. */
function closedPipe(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise(done => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', d => (stderr += d))
    child.on('close', code => done({ code, stderr }))
  })
}

t.test('a line with no end is cut at 1 MiB, reported, and the rest still reads', async t => {
  const dir = t.testdir({})
  const proc = join(dir, 'p.tsv')
  // 8 MiB without a newline between two good rows.
  writeFileSync(proc, HEAD + ROW + 'x'.repeat(8 << 20) + '\n' + ROW.replace('14:00:00', '14:00:01'))
  writeFileSync(join(dir, 's.log'), BLOCK)
  const r = memtrace(['parse', proc, join(dir, 's.log')])
  t.equal(r.code, 0, r.stderr)
  const recs = r.stdout.trim().split('\n').map(l => JSON.parse(l))
  t.equal(recs.filter(x => x.record === 'process-sample').length, 2, 'both good rows kept')
  t.ok(recs.some(x => x.record === 'problem' && x.kind === 'line-too-long' && x.line === 3), 'the long line is damage at its number')
})

t.test('memory stays bounded on a file with no newline at all (a sparse 512 MiB file)', async t => {
  const dir = t.testdir({ 's.log': BLOCK })
  const sparse = join(dir, 'sparse.tsv')
  const { openSync, ftruncateSync, closeSync } = await import('node:fs')
  const fd = openSync(sparse, 'w')
  ftruncateSync(fd, 512 << 20)
  closeSync(fd)
  const { spawnSync } = await import('node:child_process')
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'dist', 'perf', 'render', 'report-rss.js'), BIN, 'render', sparse, join(dir, 's.log'), join(dir, 'o.svg')], { encoding: 'utf8' })
  t.equal(r.status, 2, 'not a process trace: a clear error, not a hang or a crash')
  t.match(r.stderr, /sparse\.tsv is not a process trace/)
  const kb = Number(/MEMTRACE_BENCH_MAXRSS_KB (\d+)/.exec(r.stderr)?.[1])
  t.ok(kb > 0 && kb < 160 * 1024, `peak RSS ${Math.round(kb / 1024)} MB for a 512 MiB line`)
})

t.test('special files are refused at once: a device that never ends, a FIFO with no writer', async t => {
  const dir = t.testdir({ 's.log': BLOCK })
  const zero = memtrace(['render', '/dev/zero', join(dir, 's.log'), join(dir, 'o.svg')])
  t.equal(zero.code, 2)
  t.match(zero.stderr, /\/dev\/zero is not a regular file/)
  const fifo = join(dir, 'fifo')
  const { spawnSync } = await import('node:child_process')
  spawnSync('mkfifo', [fifo])
  const f = memtrace(['render', fifo, join(dir, 's.log'), join(dir, 'o.svg')])
  t.equal(f.code, 2, 'no hang on a FIFO')
  t.match(f.stderr, /fifo is not a regular file/)
  t.notOk(existsSync(join(dir, 'o.svg')))
})

t.test('numbers past any real machine are damage, never Infinity or NaN in the chart or the findings', async t => {
  const dir = t.testdir({})
  const huge = '9'.repeat(400)
  writeFileSync(join(dir, 'p.tsv'), HEAD + ROW + `2026-02-25T14:00:01Z\t${huge}\t1\tollama\t50000\t1\tx\n2026-02-25T14:00:02Z\t11\t1\tollama\t${huge}\t1\tollama runner --mlx-engine --model m:1b --port 1\n`)
  const api = `{"models":[{"name":"m:1b","model":"m:1b","size":1e400,"size_vram":5,"context_length":4096}]}`
  writeFileSync(join(dir, 's.log'), `${BLOCK}The system has 1e999 (2097152 pages with a page size of 16384).\n${api}\n===== 2026-02-25T14:00:05Z =====\nSystem-wide memory free percentage: 60%\nMemTotal: ${huge} kB\n`)
  const r = memtrace(['render', join(dir, 'p.tsv'), join(dir, 's.log'), join(dir, 'o.svg'), '--tz', 'UTC', '--report', join(dir, 'r.md')])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /bad-row/, 'rows with impossible numbers are reported')
  t.match(r.stderr, /bad-value/, 'and impossible system figures too')
  for (const f of ['o.svg', 'r.md']) t.notMatch(readFileSync(join(dir, f), 'utf8'), /Infinity|NaN/, `${f} has no Infinity or NaN`)
  t.notMatch(r.stdout.replaceAll(dir, 'DIR'), /Infinity|NaN/)
})

t.test('terminal escapes and bidi overrides from a trace never reach the terminal, the report or a label', async t => {
  const dir = t.testdir({})
  const evil = 'qwen\u001b]0;pwned\u0007\u001b[2J\u202e:7b'
  let p = HEAD
  let s = ''
  for (let i = 0; i < 30; i++) {
    const ts = `2026-02-25T14:00:${String(i).padStart(2, '0')}Z`
    p += `${ts}\t10\t1\tollama\t50000\t1\tollama serve\n${ts}\t11\t10\tollama\t${i < 2 ? 1000 : 8_000_000}\t1\tollama runner --mlx-engine --model ${evil} --port 1\n`
    if (i % 5 === 0) s += `===== ${ts} =====\nThe system has 17179869184 (1048576 pages with a page size of 16384).\nSystem-wide memory free percentage: 60%\n{"models":[{"name":${JSON.stringify(evil)},"size":2000000000,"size_vram":2000000000}]}\nError: \u001b[31mred\u001b[0m \u009b2J\n`
  }
  writeFileSync(join(dir, 'p.tsv'), p)
  writeFileSync(join(dir, 's.log'), s)
  const r = memtrace(['render', join(dir, 'p.tsv'), join(dir, 's.log'), join(dir, 'o.svg'), '--tz', 'UTC', '--report', join(dir, 'r.md')])
  t.equal(r.code, 0, r.stderr)
  const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/
  t.notMatch(r.stdout, controls, 'stdout is clean')
  t.notMatch(r.stderr, controls, 'stderr is clean')
  t.notMatch(readFileSync(join(dir, 'r.md'), 'utf8'), controls, 'the report is clean')
  t.notMatch(readFileSync(join(dir, 'o.svg'), 'utf8'), controls, 'the SVG is clean')
  t.match(r.stdout, /qwen.*:7b/, 'and the name is still recognisable')
  const json = memtrace(['render', join(dir, 'p.tsv'), join(dir, 's.log'), join(dir, 'o2.svg'), '--json'])
  t.notMatch(json.stdout, /[\u202a-\u202e\u2066-\u2069]/, 'JSON escapes controls itself; bidi overrides are neutralised too')
})

t.test('an output that is one of the inputs is refused, and nothing is written', async t => {
  const dir = t.testdir({})
  const proc = join(dir, 'p.tsv')
  copyFileSync(PROC, proc)
  copyFileSync(SYS, join(dir, 's.log'))
  const before = readFileSync(proc, 'utf8')
  const r = memtrace(['render', proc, join(dir, 's.log'), proc])
  t.equal(r.code, 1)
  t.match(r.stderr, /p\.tsv is one of the traces/)
  const rep = memtrace(['render', proc, join(dir, 's.log'), join(dir, 'o.svg'), '--report', join(dir, 's.log')])
  t.equal(rep.code, 1, 'the report too')
  t.equal(readFileSync(proc, 'utf8'), before, 'the trace is untouched')
  t.notOk(existsSync(join(dir, 'o.svg')))
})

t.test('a slow reader of memtrace parse: however often parse waits for it, no listener piles up (no warning on stderr)', async t => {
  // A reader slower than parse: every write fills the stream past its mark, and each flush waits for 'drain'.
  const out = new Writable({ highWaterMark: 16, write: (_c, _e, done) => void setTimeout(done, 1) })
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  t.teardown(() => void process.off('warning', onWarning))
  const w = new LineWriter(out)
  for (let i = 0; i < 40; i++) {
    w.push({ record: 'x', i })
    await w.flush()
  }
  await new Promise(ok => setImmediate(ok))
  t.ok(out.listenerCount('close') <= 1 && out.listenerCount('error') <= 2, `listeners left: close ${out.listenerCount('close')}, error ${out.listenerCount('error')}`)
  t.same(warnings, [], 'no MaxListenersExceededWarning')
})

t.test('a closed pipe is not a crash', async t => {
  const dir = t.testdir({})
  for (const args of [['render', PROC, SYS, join(dir, 'o.svg'), '--tz', 'UTC'], ['status', '--dir', dir], ['--help'], ['parse', PROC, SYS]]) {
    const r = await closedPipe(args)
    t.notMatch(r.stderr, /Unhandled|EPIPE|internal error/, `memtrace ${args[0]}: quiet`)
    t.ok(r.code === 0 || (args[0] === 'status' && r.code === 1), `memtrace ${args[0]}: exit ${r.code}`)
  }
  t.ok(existsSync(join(dir, 'o.svg')), 'the render still wrote its chart')
})

t.test('render --dir pairs the traces of one stamp, the newest with a suffix last', async t => {
  const dir = t.testdir({})
  const put = (name: string, from: string) => copyFileSync(from, join(dir, name))
  put('ollama-process-memtrace-20260225-140300.tsv', PROC)
  put('system-memtrace-20260225-140300.log', SYS)
  put('ollama-process-memtrace-20260225-140300-2.tsv', PROC)
  put('system-memtrace-20260225-140300-2.log', SYS)
  put('ollama-process-memtrace-20260226-090000.tsv', PROC) // a newer process trace with no system log
  const r = memtrace(['render', '--dir', dir, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^wrote .*memtrace-20260225-140300-2\.svg/, 'the -2 pair, the newest complete one')
  const lone = join(dir, 'lone')
  mkdirSync(lone)
  copyFileSync(PROC, join(lone, 'ollama-process-memtrace-20260226-090000.tsv'))
  copyFileSync(SYS, join(lone, 'system-memtrace-20260225-140300.log'))
  const bad = memtrace(['render', '--dir', lone])
  t.equal(bad.code, 2, 'never a process trace with the system log of another run')
  t.match(bad.stderr, /found only ollama-process-memtrace-20260226-090000\.tsv, system-memtrace-20260225-140300\.log/)
})

t.test('a sparse system log of many 1 MB lines in one block stays bounded', async t => {
  const dir = t.testdir({})
  copyFileSync(PROC, join(dir, 'ollama-process-memtrace-20260225-140300.tsv'))
  const { openSync, writeSync, closeSync } = await import('node:fs')
  const fd = openSync(join(dir, 'system-memtrace-20260225-140300.log'), 'w')
  const head = Buffer.from('===== 2026-02-25T14:03:00Z =====\nMemTotal: 1000 kB\n')
  writeSync(fd, head)
  // 1,500 lines of a million NUL bytes each: about 1.5 GB read, almost nothing on disk.
  for (let k = 1; k <= 1500; k++) writeSync(fd, '\n', head.length + k * 1_000_000)
  closeSync(fd)
  const { spawnSync } = await import('node:child_process')
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'dist', 'perf', 'render', 'report-rss.js'), BIN, 'render', '--dir', dir, '-q'], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr.slice(0, 500))
  t.match(r.stderr, /bad-block/)
  const kb = Number(/MEMTRACE_BENCH_MAXRSS_KB (\d+)/.exec(r.stderr)?.[1])
  t.ok(kb > 0 && kb < 300 * 1024, `peak RSS ${Math.round(kb / 1024)} MB`)
})

t.test('an event with an impossible time or figure is damage, not a crash', async t => {
  const dir = t.testdir({})
  copyFileSync(PROC, join(dir, 'p.tsv'))
  const bad = [
    'memtrace source-error {"ts":"2026-13-45T99:99:99Z","source":"api-ps","message":"x"}',
    'memtrace marker {"ts":"2026-02-25T14:05:00","text":"no zone"}',
    'memtrace marker {"ts":"2026-02-25T14:05:00+99:99","text":"no such offset"}',
    'memtrace missed {"source":"system","ticks":1e300}',
    'memtrace dropped {"file":"process","bytes":1e300}',
  ]
  writeFileSync(join(dir, 's.log'), readFileSync(SYS, 'utf8').replace('===== 2026-02-25T14:05:00Z =====\n', `===== 2026-02-25T14:05:00Z =====\n${bad.join('\n')}\n`))
  const r = memtrace(['render', join(dir, 'p.tsv'), join(dir, 's.log'), join(dir, 'o.svg'), '--report', join(dir, 'r.md'), '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /5 bad-value/)
  t.notMatch(r.stdout + readFileSync(join(dir, 'r.md'), 'utf8'), /1e\+300|e\+296|no zone|no such offset/)
})

t.test('a report in place of a directory: nothing is written, not the chart either', async t => {
  const dir = t.testdir({ rdir: {} })
  const r = memtrace(['render', PROC, SYS, join(dir, 'x.svg'), '--report', join(dir, 'rdir')])
  t.equal(r.code, 2)
  t.match(r.stderr, /rdir: it is a directory/)
  t.notOk(existsSync(join(dir, 'x.svg')))
  t.notOk(existsSync(join(dir, 'x.png')))
})

t.test('a newline in trace text never forges a line; Markdown from a trace stays text in the report', async t => {
  const dir = t.testdir({})
  let p = HEAD
  let s = ''
  const evil = 'm\nFAKE LINE: 9. all good <img src=https://e.example/a.png> @github/security ![x](https://e.example/t.png) </details>'
  for (let i = 0; i < 30; i++) {
    const ts = `2026-02-25T14:00:${String(i).padStart(2, '0')}Z`
    p += `${ts}\t10\t1\tollama\t50000\t1\tollama serve\n${ts}\t11\t10\tollama\t${i < 2 ? 1000 : 8_000_000}\t1\tollama runner --mlx-engine --model m:1b --port 1\n`
    if (i % 5 === 0) s += `===== ${ts} =====\n${i === 0 ? `memtrace marker ${JSON.stringify({ text: evil })}\n` : ''}The system has 17179869184 (1048576 pages with a page size of 16384).\nSystem-wide memory free percentage: 60%\n{"models":[{"name":${JSON.stringify(`m:1b`)},"size":2000000000,"size_vram":2000000000}]}\nError: ${evil.replace(/\n/g, ' ')}\n`
  }
  writeFileSync(join(dir, 'p.tsv'), p)
  writeFileSync(join(dir, 's.log'), s)
  const r = memtrace(['render', join(dir, 'p.tsv'), join(dir, 's.log'), join(dir, 'o.svg'), '--tz', 'UTC', '--report', join(dir, 'r.md')])
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stdout, /^FAKE LINE/m, 'no forged line on the terminal')
  const md = readFileSync(join(dir, 'r.md'), 'utf8')
  t.notMatch(md, /^FAKE LINE/m)
  t.notMatch(md, /<img|<\/details> @|(?<!\\)@github|(?<!\\)!\[x\]/, 'no HTML, mention or image from the trace')
  t.match(md, /&lt;img src=https:\/\/e\.example\/a\.png&gt;/, 'the text is still there, as text')
})

t.test('render --dir pairs names exactly and prefers the daemon\'s names over renamed ones', async t => {
  const dir = t.testdir({})
  const put = (name: string, from: string) => copyFileSync(from, join(dir, name))
  put('ollama-process-memtrace-20260225-140300-02.tsv', PROC) // pairs with nothing: "-02" is not "-2"
  put('system-memtrace-20260225-140300-2.log', SYS)
  put('ollama-process-memtrace-20260225-140300-1.tsv', PROC) // nor is "-1" the plain name
  put('system-memtrace-20260225-140300.log', SYS)
  put('ollama-process-memtrace-20260225-130000.tsv', PROC)
  put('system-memtrace-20260225-130000.log', SYS)
  put('ollama-process-memtrace-copy.tsv', PROC) // renamed by hand: sorts after digits, but is not newer
  put('system-memtrace-copy.log', SYS)
  const r = memtrace(['render', '--dir', dir, '--tz', 'UTC'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^wrote .*memtrace-20260225-130000\.svg/)
})

t.test('a link planted at the output\'s temporary name is never written through', async t => {
  const dir = t.testdir({ 'victim.txt': 'keep\n' })
  const out = join(dir, 'o.svg')
  // The render's temporary names are predictable: plant links for the pids it may get.
  const { symlinkSync } = await import('node:fs')
  const child = spawn(process.execPath, [BIN, 'render', PROC, SYS, out, '-q'], { cwd: ROOT, stdio: 'ignore' })
  symlinkSync(join(dir, 'victim.txt'), `${out}.tmp-${child.pid}`)
  const code = await new Promise(done => child.on('close', done))
  t.equal(code, 0)
  t.equal(readFileSync(join(dir, 'victim.txt'), 'utf8'), 'keep\n', 'the link target is untouched')
  t.match(readFileSync(out, 'utf8'), /^<svg/)
})
