import t from 'tap'
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { findFindings } from '../findings/findings.js'
import { REPORT_MAX_CHARS, reportMarkdown } from '../findings/report.js'
import { nameRunners } from '../../core/model/names.js'
import { TraceBuilder } from '../../core/model/trace.js'
import { memtrace, parseProc, parseSys, ROOT } from '../../core/test/helpers.js'

t.test('the report pastes into an issue: file names only, the PNG to drag in, GiB throughout', async t => {
  const home = t.testdir({})
  const traces = join(home, 'work', 'ollama-memtrace')
  mkdirSync(traces, { recursive: true })
  cpSync(join(ROOT, 'samples', 'linux-nvidia-container'), traces, { recursive: true })
  const r = memtrace(['render', '--dir', traces, '-o', join(traces, 'chart.svg'), '--tz', 'UTC', '--report', join(traces, 'report.md')], { env: { HOME: home } })
  t.equal(r.code, 0, r.stderr)
  t.ok(existsSync(join(traces, 'chart.png')), 'a PNG beside the SVG, for the issue')
  const md = readFileSync(join(traces, 'report.md'), 'utf8')
  t.notOk(md.includes(home), 'the home directory never appears')
  t.notOk(/(^|[\s`(])\/(?!api\/ps)\w/m.test(md), 'no absolute path')
  // A link to a bare file name shows a broken image once posted: the report says what to drag where instead.
  t.notMatch(md, /!\[/, 'no image link that cannot resolve')
  t.match(md, /^## Memory trace \(memtrace\)\n\n<!-- Put the cursor on this line and drag chart\.png into the comment box: GitHub uploads the chart and writes its image link here\. -->\n/)
  t.match(md, /```\nmemtrace render --dir ollama-memtrace -o chart\.svg --tz UTC --report report\.md\n```/)
  t.match(md, /\n1\. The kernel's OOM killer killed runner PID 2688 for llama3\.3:70b: it held 30\.5 GiB RSS/, 'numbered like the chart, the kill first')
  // The daemon's third file, paired by --dir: Ollama's version and settings, its prediction and what llama.cpp allocated.
  t.match(md, /\n- Server: Ollama 0\.30\.2; NUM\\_PARALLEL 2, context length 16384, KV cache type \(default\), flash attention false, max loaded models 0, keep-alive 5m0s\n/)
  t.match(md, /\| llama3\.3:70b \| 2688 \| .* \| 49\.6 GiB \| 45\.6 GiB \(21\.3 GiB GPU\) \| \+8\.7 % vs allocated \|/)
  // GB only as the original beside its GiB conversion, once per runner.
  const gb = [...md.matchAll(/[\d.]+ GB\b/g)].map(m => m.index as number).filter(i => !md.slice(i - 12, i).includes('1 GiB ='))
  t.equal(gb.length, 3)
  for (const i of gb) t.match(md.slice(i - 60, i), /GiB[^|]*\($/, 'a GB figure only in brackets after its GiB')
  t.match(md, /\| llama3\.3:70b \| 2688 \| .* \| 30\.5 GiB \| 42\.1 GiB: 20\.6 GiB on the GPU, 21\.5 GiB in system RAM \(45\.2 GB\) \|/)
})

t.test('a day-long trace with many loads stays under GitHub\'s 65,536-character limit, cut with a note', async t => {
  const H = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'
  const ts = (s: number) => new Date(Date.UTC(2026, 1, 25, 0, 0, s)).toISOString().replace('.000', '')
  let p = H
  let sys = ''
  const loads = 400
  for (let k = 0; k < loads; k++) {
    const model = `model-${k}:${k % 7}b`
    for (let s = k * 200; s < k * 200 + 150; s += 5) p += `${ts(s)}\t${1000 + k}\t10\tollama\t${3_000_000 + k}\t1\tollama runner --mlx-engine --model ${model} --port 1\n`
    sys += `===== ${ts(k * 200)} =====\nmemtrace marker {"text":"load ${model}, a long marker text to fill the report with what a user typed while testing"}\n`
    sys += `The system has 34359738368 (2097152 pages with a page size of 16384).\nSystem-wide memory free percentage: ${k % 3 === 0 ? 20 : 60}%\n`
    sys += `${JSON.stringify({ models: [{ name: model, model, size: 5e9 + k, size_vram: 5e9 + k }] })}\n`
    for (let s = k * 200 + 5; s < k * 200 + 200; s += 5) sys += `===== ${ts(s)} =====\nSystem-wide memory free percentage: ${k % 3 === 0 && s < k * 200 + 150 ? 20 : 60}%\n`
  }
  for (let s = 0; s < loads * 200; s += 5) p += `${ts(s)}\t10\t1\tollama\t50000\t1\tollama serve\n`
  const b = new TraceBuilder()
  for (const r of parseProc(p).rows) b.addProc(r)
  for (const blk of parseSys(sys).blocks) b.addSystem(blk)
  const trace = b.finish()
  nameRunners(trace)
  const findings = findFindings(trace, { zone: 'UTC', lowFreePct: 30 })
  const md = reportMarkdown(trace, findings, { zone: 'UTC', lowFreePct: 30, chartName: 'c.png', procFile: 'p.tsv', sysFile: 's.log', command: ['memtrace', 'render'] })
  t.ok(md.length <= REPORT_MAX_CHARS && md.length < 65_536, `${md.length} characters`)
  t.match(md, /<details><summary>Show all<\/summary>\n\n\| model \| pid \|/, 'the long runners table folds')
  t.match(md, /\*… and \d+ more runners, cut to stay under GitHub's size limit for a comment: the chart shows them all\.\*/)
  t.match(md, /### What happened\n\n1\. /, 'the findings come first and stay')
  t.match(md, /\n### Command\n\n```\nmemtrace render\n```\n$/, 'and the report ends whole')
})

t.test('home directories in a trace from another machine are cut too', async t => {
  const H = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n2026-02-25T14:00:00Z\t10\t1\tollama\t50000\t1\tollama serve\n'
  const sys = '===== 2026-02-25T14:00:00Z =====\nmemtrace marker {"text":"ran /home/alice/bin/bench.sh and /Users/bob/x and C:\\\\Users\\\\carol\\\\y"}\nSystem-wide memory free percentage: 60%\n'
  const b = new TraceBuilder()
  for (const r of parseProc(H).rows) b.addProc(r)
  for (const blk of parseSys(sys).blocks) b.addSystem(blk)
  const md = reportMarkdown(b.finish(), [], { zone: 'UTC', lowFreePct: 30, chartName: 'c.png', procFile: 'p.tsv', sysFile: 's.log', command: ['memtrace'], home: '/home/dave' })
  t.match(md, /ran \\~\/bin\/bench\.sh and \\~\/x and \\~\\\\y/, 'cut, and the ~ escaped for Markdown')
  t.notMatch(md, /alice|bob|carol/)
})

t.test("the report names the server's version and memory settings, and folds its memory lines: with --dir, the daemon's third file", async t => {
  const home = t.testdir({})
  const traces = join(home, 'ollama-memtrace')
  mkdirSync(traces, { recursive: true })
  cpSync(join(ROOT, 'samples', 'linux-nvidia-container'), traces, { recursive: true })
  const { writeFileSync } = await import('node:fs')
  writeFileSync(
    join(traces, 'ollama-server-memtrace-20261010-090000.log'),
    [
      'time=2026-10-10T09:00:01Z level=INFO source=routes.go:1 msg="server config" env="map[OLLAMA_CONTEXT_LENGTH:8192 OLLAMA_FLASH_ATTENTION:true OLLAMA_KEEP_ALIVE:5m0s OLLAMA_KV_CACHE_TYPE:q8_0 OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_NUM_PARALLEL:4]"',
      'time=2026-10-10T09:00:01Z level=INFO source=routes.go:2 msg="Listening on 127.0.0.1:11434 (version 0.30.4)"',
      `time=2026-10-10T09:03:00Z level=INFO source=sched.go:557 msg="llama-server model predicted to exceed available memory, evicting" model=${home}/.ollama/models/blobs/sha256-${'b'.repeat(64)} predicted="42.1 GiB" predicted_num_ctx=8192 num_batch=512 available="30.2 GiB" gpu_free="20.6 GiB" system_free="30.2 GiB" system_limited=true`,
      'time=2026-10-10T09:03:04Z level=ERROR source=llama_server.go:976 msg="llama-server terminated" error="signal: killed" exit=unknown',
      'time=2026-10-10T09:03:05Z level=DEBUG source=server.go:1 msg="completion request" prompt="my secret prompt"',
    ].join('\n') + '\n',
  )
  const r = memtrace(['render', '--dir', traces, '-o', join(traces, 'chart.svg'), '--tz', 'UTC', '--report', join(traces, 'report.md')], { env: { HOME: home } })
  t.equal(r.code, 0, r.stderr)
  const md = readFileSync(join(traces, 'report.md'), 'utf8')
  t.match(md, /- Traces: `ollama-process-memtrace-20261010-090000\.tsv`, `system-memtrace-20261010-090000\.log`, `ollama-server-memtrace-20261010-090000\.log`/)
  t.match(md, /- Server: Ollama 0\.30\.4; NUM\\_PARALLEL 4, context length 8192, KV cache type q8\\_0, flash attention true, max loaded models 0, keep-alive 5m0s\n/, 'Markdown-escaped, as all trace text')
  t.match(md, /### The server's memory lines \(2\)[\s\S]*<details><summary>Show them<\/summary>\n\n- 2026-10-10 09:03:00 eviction: sha256-bbbbbbbbbbbb, predicted 42\.1 GiB, available 30\.2 GiB, GPU free 20\.6 GiB, system free 30\.2 GiB, limited by system memory\n- 2026-10-10 09:03:04 runner-stopped: signal killed\n\n<\/details>/)
  t.notMatch(md, /my secret prompt/)
  t.notOk(md.includes(home), 'no home directory')
})

t.test('a pasted log with no times: its lines are named by line number, said to have no time, and none is placed on the chart', async t => {
  const dir = t.testdir({
    'paste.log': [
      'load_tensors: offloaded 29/29 layers to GPU',
      'load_tensors:        CUDA0 model buffer size =  1918.35 MiB',
      'llama_kv_cache:      CUDA0 KV buffer size =   448.00 MiB',
      'msg="llama-server model predicted to exceed available memory, evicting" predicted="6.3 GiB" available="7.2 GiB" gpu_free="14.8 GiB" system_free="7.2 GiB" system_limited=true',
    ].join('\n'),
  })
  const sample = join(ROOT, 'samples', 'linux-nvidia-container')
  const r = memtrace(['render', join(sample, 'ollama-process-memtrace-20261010-090000.tsv'), join(sample, 'system-memtrace-20261010-090000.log'), join(dir, 'c.svg'), '--tz', 'UTC', '--server-log', join(dir, 'paste.log'), '--report', join(dir, 'r.md')])
  t.equal(r.code, 0, r.stderr)
  const md = readFileSync(join(dir, 'r.md'), 'utf8')
  t.match(md, /The log gives no times: the lines are in its order, named by their line numbers, and none is placed on the chart\./)
  t.match(md, /\n- line 2 allocation: weights, on CUDA0, size 1\.9 GiB\n/)
  t.match(md, /\n- line 4 eviction: predicted 6\.3 GiB/)
  const svg = readFileSync(join(dir, 'c.svg'), 'utf8')
  t.notMatch(svg, /class="marker server"[^>]*>(?:(?!<\/g>).)*evicted/s, 'an eviction with no time is not drawn by guess')
  t.notOk(/^\d+\. Ollama evicted/m.test(r.stdout), 'nor made a finding at a guessed time')
})
