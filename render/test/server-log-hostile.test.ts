/**
 * A server log from a stranger: 1 GiB of nothing, a line of 100 MB, binary,
 * lines that all look like memory lines with absurd figures. The render ends
 * with clear messages, its memory stays near that of a render with a tidy
 * log (a ratio, measured in this test), and the lines that read are read.
 */
import t from 'tap'
import { appendFileSync, openSync, closeSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { BIN, ROOT } from '../../core/test/helpers.js'

const SAMPLE = join(ROOT, 'samples', 'linux-nvidia-container')
const PROC = join(SAMPLE, 'ollama-process-memtrace-20261010-090000.tsv')
const SYS = join(SAMPLE, 'system-memtrace-20261010-090000.log')
const RSS = join(ROOT, 'dist', 'perf', 'render', 'report-rss.js')
const EVICTION = 'time=2026-10-10T09:07:09.400Z level=INFO source=sched.go:557 msg="llama-server model predicted to exceed available memory, evicting" predicted="49.6 GiB" predicted_num_ctx=16384 num_batch=512 available="27.4 GiB" gpu_free="0.9 GiB" system_free="27.4 GiB" system_limited=true\n'

/** `memtrace render` with its peak RSS (kB), as measured by the process itself at exit. */
function render(dir: string, log: string, name: string) {
  const r = spawnSync(process.execPath, [`--import=${RSS}`, BIN, 'render', PROC, SYS, join(dir, `${name}.svg`), '--tz', 'UTC', '--server-log', log, '--report', join(dir, `${name}.md`)], { encoding: 'utf8', maxBuffer: 1 << 26 })
  const kb = Number(/MEMTRACE_BENCH_MAXRSS_KB (\d+)/.exec(r.stderr)?.[1])
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\nMEMTRACE_BENCH_MAXRSS_KB \d+\n/, ''), kb }
}

t.test('1 GiB of nothing, a 100 MB line, binary and absurd figures: clear messages, bounded memory, the real lines read', async t => {
  const dir = t.testdir({})
  const tidy = join(dir, 'tidy.log')
  writeFileSync(tidy, EVICTION)
  const base = render(dir, tidy, 'base')
  t.equal(base.code, 0, base.stderr)
  t.ok(base.kb > 0, `the baseline's peak RSS: ${base.kb} kB`)

  const hostile = join(dir, 'hostile.log')
  const fd = openSync(hostile, 'w')
  writeSync(fd, 'time=2026-10-10T09:00:00Z level=INFO source=routes.go:1 msg="Listening on [::]:11434 (version 0.30.2)"\n')
  // A prompt of 100 MB in a debug line, on one line.
  writeSync(fd, 'time=2026-10-10T09:01:00Z level=DEBUG source=server.go:1 msg="completion request" prompt="')
  const chunk = Buffer.alloc(1 << 20, 'x')
  for (let i = 0; i < 100; i++) writeSync(fd, chunk)
  writeSync(fd, '"\n')
  // Binary: every byte value, and invalid UTF-8.
  writeSync(fd, Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256)))
  writeSync(fd, '\n')
  // Lines that all look like memory lines, with absurd figures: each is read exactly, or reported.
  let absurd = ''
  for (let i = 0; i < 50_000; i++) absurd += `time=2026-10-10T09:02:00Z level=INFO source=device.go:1 msg="model weights" device=CUDA0 size="${i % 2 ? '99999999999999 GiB' : '1e308 GiB'}"\n`
  writeSync(fd, absurd)
  closeSync(fd)
  // Then 1 GiB of nothing (a hole: NUL bytes, no newline), and the one real decision after it.
  truncateSync(hostile, 1 << 30)
  appendFileSync(hostile, `\n${EVICTION}`)

  const r = render(dir, hostile, 'hostile')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^\d+\. Ollama evicted runner PID 2519 for qwen2\.5-coder:32b at 09:07:09 to load /m, 'the decision after the garbage is read')
  t.match(r.stderr, /skipped .*line-too-long|skipped .*longer than/, 'the long lines are said to be skipped')
  t.match(r.stderr, /skipped .*bad-value|is not a size memtrace can read exactly/, 'the unreadable figures are said')
  t.match(r.stderr, /read the first 20000 figure lines \(and decisions\) near the trace and left out \d+ more/, 'the cap is said')
  t.notMatch(r.stderr, /\bat \w+ \(|TypeError|RangeError/, 'no stack trace')
  const md = readFileSync(join(dir, 'hostile.md'), 'utf8')
  t.notMatch(md, /xxxxxxxx/, 'the prompt is never in the report')
  t.ok(md.length < 65_536, `the report stays under GitHub's limit: ${md.length}`)
  t.ok(r.kb < base.kb * 1.6, `peak RSS ${r.kb} kB against ${base.kb} kB for a tidy log: bounded, whatever the log`)
})
