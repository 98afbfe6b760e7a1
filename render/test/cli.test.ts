import t from 'tap'
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { parseSvg } from './xml.js'

const SAMPLE = join(ROOT, 'samples', 'mac-model-switch')
const PROC = join(SAMPLE, 'ollama-process-memtrace-20260225-140300.tsv')
const SYS = join(SAMPLE, 'system-memtrace-20260225-140300.log')

t.test('help and version', async t => {
  const v = memtrace(['--version'])
  t.equal(v.code, 0)
  t.equal(v.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version)
  const h = memtrace(['--help'])
  t.equal(h.code, 0)
  t.match(h.stdout, /render <process\.tsv> <system\.log> <out\.svg>/)
  const rh = memtrace(['render', '--help'])
  t.equal(rh.code, 0)
  t.match(rh.stdout, /--low-free PCT/)
  t.match(rh.stdout, /--tz ZONE/)
})

t.test('render as a user runs it: the SVG is written and the summary printed', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'out.svg')
  const r = memtrace(['render', PROC, SYS, out, '--tz', 'Europe/Berlin'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  t.match(r.stdout, /^wrote .*out\.svg: 5 processes, 2 runners, 180 system samples\n\nWhat happened \(times in Europe\/Berlin\), most important first:\n1\. Free memory was under 30% from 15:10:00 /)
  const doc = parseSvg(readFileSync(out, 'utf8'))
  t.match(doc.querySelector('title')?.textContent, /15:03 – 15:17 Europe\/Berlin/)
})

t.test('render --dir picks the newest traces and names the output after them', async t => {
  const dir = t.testdir({})
  copyFileSync(PROC, join(dir, 'ollama-process-memtrace-20260225-140300.tsv'))
  copyFileSync(SYS, join(dir, 'system-memtrace-20260225-140300.log'))
  writeFileSync(join(dir, 'ollama-process-memtrace-20240101-000000.tsv'), 'older')
  const r = memtrace(['render', '--dir', dir, '--tz', 'UTC', '-q'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '')
  t.ok(existsSync(join(dir, 'memtrace-20260225-140300.svg')))
})

t.test('a damaged trace renders what is valid and says what it skipped', async t => {
  const dir = t.testdir({})
  const lines = readFileSync(PROC, 'utf8').split('\n')
  lines.splice(10, 0, 'junk junk', '2026-02-25T14:03:05Z\tx\t1\tollama\t1\t1\tbad')
  const damaged = `${lines.join('\n').trimEnd()}\n2026-02-25T14:18:00Z\t812\t1\toll`
  writeFileSync(join(dir, 'p.tsv'), damaged)
  writeFileSync(join(dir, 's.log'), readFileSync(SYS, 'utf8').replace('Pages wired down:', 'Pages wired down: garbled'))
  const out = join(dir, 'out.svg')
  const r = memtrace(['render', join(dir, 'p.tsv'), join(dir, 's.log'), out, '--tz', 'UTC'])
  t.equal(r.code, 0)
  const err = r.stderr.trim().split('\n')
  t.match(err, [
    /^memtrace render: skipped p\.tsv: 2 bad-row \(lines 11, 12\): /,
    /^memtrace render: skipped p\.tsv: 1 truncated-line \(line \d+\): /,
    /^memtrace render: skipped s\.log: 1 unrecognised-line \(line 9\): /,
  ])
  t.equal(err.length, 3, 'one line per kind of problem')
  const doc = parseSvg(readFileSync(out, 'utf8'))
  t.equal(doc.querySelectorAll('path.rss-line').length, 5)
  t.match(doc.querySelector('desc')?.textContent, /Skipped as damaged: 4 line/)
})

t.test('inputs that cannot be used: one clear line, non-zero exit, no output file', async t => {
  const dir = t.testdir({ 'empty.tsv': '', 'empty.log': '', 'notes.txt': 'hello\nworld\n', 'header.tsv': 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n' })
  const out = join(dir, 'out.svg')
  const cases: [string[], RegExp][] = [
    [[join(dir, 'missing.tsv'), SYS, out], /^memtrace render: cannot read .*missing\.tsv: no such file\n$/],
    [[PROC, join(dir, 'missing.log'), out], /cannot read .*missing\.log: no such file/],
    [[join(dir, 'empty.tsv'), SYS, out], /empty\.tsv is empty\n$/],
    [[PROC, join(dir, 'empty.log'), out], /empty\.log is empty\n$/],
    [[join(dir, 'notes.txt'), SYS, out], /notes\.txt is not a process trace/],
    [[PROC, join(dir, 'notes.txt'), out], /notes\.txt is not a system trace/],
    [[SYS, PROC, out], /is not a process trace/],
    [[dir, SYS, out], /is a directory/],
  ]
  for (const [args, re] of cases) {
    const r = memtrace(['render', ...args])
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, re)
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line')
    t.notOk(existsSync(out), 'no output written')
  }
  const headerOnly = memtrace(['render', join(dir, 'header.tsv'), SYS, out, '--tz', 'UTC'])
  t.equal(headerOnly.code, 0, 'a trace of a machine with no Ollama running still shows the system')
  t.match(headerOnly.stderr, /has no process samples/)
})

t.test('bad usage exits 1 with a hint', async t => {
  for (const args of [['render'], ['render', 'a', 'b'], ['render', PROC, SYS, 'o.svg', '--tz', 'Mars/Olympus'], ['render', PROC, SYS, 'o.svg', '--low-free', 'lots'], ['frobnicate'], ['render', '--bogus']]) {
    const r = memtrace(args)
    t.equal(r.code, 1, args.join(' '))
    t.match(r.stderr, /Try: memtrace/)
  }
})

t.test('an unwritable output is an error, and no temporary file is left', async t => {
  const dir = t.testdir({})
  const r = memtrace(['render', PROC, SYS, join(dir, 'no', 'such', 'dir', 'out.svg')])
  t.equal(r.code, 2)
  t.match(r.stderr, /cannot write/)
})

t.test('all outputs or none: a report that cannot be written leaves no chart and no temporary file', async t => {
  const dir = t.testdir({ 'old.svg': 'the chart from before' })
  const out = join(dir, 'old.svg')
  const r = memtrace(['render', PROC, SYS, out, '--report', join(dir, 'missing', 'r.md')])
  t.equal(r.code, 2)
  t.match(r.stderr, /cannot write .*r\.md/)
  t.equal(readFileSync(out, 'utf8'), 'the chart from before', 'the earlier chart is untouched')
  const { readdirSync } = await import('node:fs')
  t.same(readdirSync(dir), ['old.svg'], 'no PNG, no temporary file')
})

t.test('an output ending in .png is a PNG of the chart, at twice the pixel density unless --scale says otherwise', async t => {
  const dir = t.testdir({})
  const svgOut = join(dir, 'chart.svg')
  t.equal(memtrace(['render', PROC, SYS, svgOut, '--tz', 'UTC', '-q']).code, 0)
  const svgText = readFileSync(svgOut, 'utf8')
  const svgHeight = Number(/height="(\d+)"/.exec(svgText)?.[1])
  // Pasted into an issue, the chart shows in a column about 900 px wide: at the
  // default width nothing is shrunk, so no text is drawn under 10 px there.
  t.equal(/<svg[^>]* width="(\d+)"/.exec(svgText)?.[1], '900', 'the default width is an issue column')
  const sizes = [...svgText.matchAll(/font-size="([\d.]+)"/g)].map(m => Number(m[1]))
  t.ok(sizes.length > 20 && Math.min(...sizes) >= 10, `every text at 10 px or more (smallest ${Math.min(...sizes)})`)
  const out = join(dir, 'chart.png')
  const r = memtrace(['render', PROC, SYS, out, '--tz', 'UTC', '-q'])
  t.equal(r.code, 0, r.stderr)
  const { decodePng, countColor, blend } = await import('./png.js')
  const { THEMES } = await import('../chart/style.js')
  const th = THEMES.light
  const img = decodePng(readFileSync(out))
  t.equal(img.width, 1800, 'a 900 px chart (the default width, an issue column), 1800 px picture')
  t.equal(img.height, 2 * svgHeight)
  t.ok(countColor(img, blend(th.lowFree, th.lowFreeOpacity, th.panel), 6) > 20000, 'the red low-free band is in the picture')
  t.ok(countColor(img, th.models[1] as string, 30) > 800, "and the second model's line")
  const one = join(dir, 'one.png')
  t.equal(memtrace(['render', PROC, SYS, one, '--tz', 'UTC', '-q', '--scale', '1']).code, 0)
  t.equal(decodePng(readFileSync(one)).width, 900, '--scale 1 gives one pixel per unit')
  t.equal(memtrace(['render', PROC, SYS, one, '--scale', '9']).code, 1, 'a scale past 4 is bad usage')
})

t.test('--theme dark draws light text on a dark background', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'dark.png')
  const r = memtrace(['render', PROC, SYS, out, '--tz', 'UTC', '--theme', 'dark', '-q', '--width', '900', '--height', '600', '--scale', '1'])
  t.equal(r.code, 0, r.stderr)
  const { decodePng, countColor, blend } = await import('./png.js')
  const { THEMES } = await import('../chart/style.js')
  const th = THEMES.dark
  const img = decodePng(readFileSync(out))
  t.equal(img.width, 900)
  t.ok(countColor(img, th.background, 2) > 0.2 * img.width * img.height, 'dark background')
  t.ok(countColor(img, th.panel, 2) > 0.05 * img.width * img.height, 'dark panels')
  t.ok(countColor(img, blend(th.lowFree, th.lowFreeOpacity, th.panel), 6) > 0.05 * img.width * img.height, 'the low-free band shows on the dark panel')
  t.equal(memtrace(['render', PROC, SYS, out, '--theme', 'sepia']).code, 1)
})
