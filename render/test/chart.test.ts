import t from 'tap'
import { join } from 'node:path'
import { loadTrace } from '../load.js'
import { renderChart, type ChartOptions } from '../chart/render-chart.js'
import { TraceBuilder } from '../../core/model/trace.js'
import { ROOT } from '../../core/test/helpers.js'
import { parseSvg, unsafeParts } from './xml.js'

const OPTS: ChartOptions = { width: 1200, height: 800, zone: 'UTC', lowFreePct: 30, procFile: 'p.tsv', sysFile: 's.log' }

async function sample(name: string, stamp: string) {
  const d = join(ROOT, 'samples', name)
  return loadTrace(join(d, `ollama-process-memtrace-${stamp}.tsv`), join(d, `system-memtrace-${stamp}.log`))
}

const all = (doc: Document, sel: string) => Array.from(doc.querySelectorAll(sel))

t.test('macOS model switch: the documented structure', async t => {
  const { trace } = await sample('mac-model-switch', '20260225-140300')
  const svg = renderChart(trace, OPTS)
  const doc = parseSvg(svg)
  const root = doc.documentElement
  t.equal(root.localName, 'svg')
  t.match(root.getAttribute('viewBox'), /^0 0 1200 \d+$/)
  t.equal(root.getAttribute('width'), '1200')
  t.match(doc.querySelector('svg > title')?.textContent, /32\.0 GiB host · 2026-02-25 14:03 – 14:17 UTC \(14 min 59 s\)/)
  t.ok(doc.querySelector('svg > desc')?.textContent)
  const lines = all(doc, 'path.rss-line')
  t.equal(lines.length, trace.procs.length)
  const runners = lines.filter(l => l.getAttribute('data-role') === 'runner')
  t.same(runners.map(l => [l.getAttribute('data-pid'), l.getAttribute('data-model')]), [['4412', 'qwen2.5-coder:7b'], ['5120', 'qwen3-coder:30b']])
  t.ok(lines.every(l => (l.getAttribute('d') ?? '').startsWith('M')), 'every line is drawn')
  t.same(all(doc, 'path.sys-series').map(p => p.getAttribute('data-series')).sort(), ['compressor', 'free', 'free-pct', 'swap-used', 'wired'])
  const overlaps = all(doc, 'rect.runner-overlap')
  t.same(overlaps.map(o => o.getAttribute('data-panel')), ['processes', 'system'], 'the overlap spans both panels')
  t.equal(overlaps[0]!.getAttribute('data-start'), '2026-02-25T14:09:45Z')
  t.equal(overlaps[0]!.getAttribute('data-end'), '2026-02-25T14:10:50Z')
  const bands = all(doc, 'rect.low-free-band')
  t.ok(bands.length >= 1)
  for (const b of bands) t.match(b.getAttribute('data-start'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
  t.same(all(doc, 'g.marker').map(m => [m.getAttribute('data-ts'), m.textContent]), [
    ['2026-02-25T14:03:58Z', 'ollama run qwen2.5-coder:7b'],
    ['2026-02-25T14:09:43Z', 'switch to qwen3-coder:30b'],
  ])
  t.same(unsafeParts(doc), [], 'no scripts, links or external references')
  t.notOk(/\(ollama\)/.test(svg), 'placeholders left out')
})

t.test('Linux with NVIDIA GPU in a container: the Linux series', async t => {
  const { trace } = await sample('linux-nvidia-container', '20261010-090000')
  const doc = parseSvg(renderChart(trace, OPTS))
  const series = all(doc, 'path.sys-series').map(p => p.getAttribute('data-series'))
  t.same([...series].sort(), ['available', 'cgroup-limit', 'cgroup-usage', 'gpu-total', 'gpu-used', 'psi', 'swap-used', 'used'], 'the available % is the available line itself, read on the right axis; memory pressure beside it')
  t.match(doc.querySelector('.legend-system')?.textContent ?? '', /available \(MemAvailable; right axis: % of host\)/)
  t.equal(doc.querySelector('path.sys-series[data-series="gpu-used"]')?.getAttribute('data-gpu'), '0')
  t.same(all(doc, 'path.rss-line[data-role="runner"]').map(l => l.getAttribute('data-model')), ['phi4:14b', 'qwen2.5-coder:32b', 'llama3.3:70b'])
  t.equal(all(doc, 'rect.runner-overlap').length, 0, 'these runners never ran together')
})

t.test('same input and options give the same bytes; the zone changes labels and is named', async t => {
  const { trace } = await sample('mac-model-switch', '20260225-140300')
  t.equal(renderChart(trace, OPTS), renderChart(trace, OPTS))
  const ny = renderChart(trace, { ...OPTS, zone: 'America/New_York' })
  t.match(ny, /<title>[^<]*2026-02-25 09:03 – 09:17 America\/New_York/)
  t.match(ny, /times in America\/New_York \(UTC-05:00\)/)
  t.match(ny, />09:05</, 'axis labels read in the zone')
  const kolkata = renderChart(trace, { ...OPTS, zone: 'Asia/Kolkata' })
  t.match(kolkata, /UTC\+05:30/)
})

t.test('a day at 1 Hz with six processes stays under 1 MB and keeps a one-second spike', async t => {
  const b = new TraceBuilder()
  const t0 = Date.UTC(2026, 1, 25)
  const cmds = ['ollama serve', ...[1, 2, 3, 4, 5].map(i => `ollama runner --mlx-engine --model m${i}:latest --port ${i}`)]
  for (let s = 0; s < 86_400; s++) {
    cmds.forEach((command, i) => {
      const rssKb = s === 50_000 && i === 3 ? 30_000_000 : 1_000_000 * (i + 1) + ((s * 7919) % 1000) * 100
      b.addProc({ tsMs: t0 + s * 1000, sample: { record: 'process-sample', ts: '', line: 1, pid: 100 + i, ppid: 1, comm: 'ollama', rssKb, vszKb: 1, command } })
    })
  }
  for (let s = 0; s < 86_400; s += 5) {
    b.addSystem({ tsMs: t0 + s * 1000, events: [], sample: { record: 'system-sample', ts: '', line: 1, platform: 'macos', sections: ['vm_stat'], wiredBytes: 4e9 + (s % 3600) * 1e6, compressorBytes: 1e9, swapUsedBytes: 0, freeBytes: 8e9, freePct: s % 7200 < 600 ? 20 : 60, memTotalBytes: 32 * 1024 ** 3 } })
  }
  const svg = renderChart(b.finish(), OPTS)
  t.ok(svg.length < 1_000_000, `${svg.length} bytes`)
  const doc = parseSvg(svg)
  const spiky = doc.querySelector('path.rss-line[data-pid="103"]')?.getAttribute('d') ?? ''
  const ys = [...spiky.matchAll(/[ML][\d.]+,([\d.]+)/g)].map(m => Number(m[1]))
  const panel = doc.querySelector('rect[data-panel="processes"]')
  const top = Number(panel?.getAttribute('y'))
  const height = Number(panel?.getAttribute('height'))
  t.ok(Math.min(...ys) < top + 0.2 * height, 'the 30 GB spike reaches the top fifth of the panel (the axis leaves room above the highest line for labels)')
  t.ok(ys.filter(y => y < top + 0.5 * height).length <= 3, 'and only the spike does')
})

t.test('hostile text from command lines is escaped and the SVG stays well-formed', async t => {
  const b = new TraceBuilder()
  const evil = 'ollama runner --model "</text><script>alert(1)</script>" & \'x\' \u0001\u0007 \uD800 \uFFFF <!-- ]]> --port 1'
  for (let s = 0; s < 10; s++) {
    b.addProc({ tsMs: s * 1000, sample: { record: 'process-sample', ts: '', line: 1, pid: 7, ppid: 1, comm: '<c>', rssKb: 1000, vszKb: 1, command: evil } })
  }
  b.addSystem({ tsMs: 0, events: [{ record: 'trace-event', kind: 'marker', ts: '1970-01-01T00:00:03Z', line: 1, text: '<b>&amp;</b> "q"' }], sample: { record: 'system-sample', ts: '', line: 1, platform: 'macos', sections: [], freePct: 50 } })
  const svg = renderChart(b.finish(), { ...OPTS, procFile: 'a<b>.tsv', sysFile: '"s".log' })
  const doc = parseSvg(svg)
  t.same(unsafeParts(doc), [])
  t.equal(doc.querySelector('path.rss-line')?.getAttribute('data-model'), '"</text><script>alert(1)</script>"')
  t.equal(doc.querySelector('g.marker text')?.textContent, '<b>&amp;</b> "q"')
  t.notOk(svg.includes('<script'))
})
