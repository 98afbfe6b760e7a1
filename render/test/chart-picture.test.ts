import t from 'tap'
import { join } from 'node:path'
import type { SystemSample, TraceEvent } from '../../schemas/index.js'
import { loadTrace } from '../load.js'
import { renderChart, type ChartOptions } from '../chart/render-chart.js'
import { FINDINGS_LINE_BUDGET } from '../chart/findings-block.js'
import { THEMES } from '../chart/style.js'
import { findFindings } from '../findings/findings.js'
import { TraceBuilder } from '../../core/model/trace.js'
import { ROOT } from '../../core/test/helpers.js'
import { readFileSync } from 'node:fs'
import { memtrace } from '../../core/test/helpers.js'
import { isRed } from './contrast.js'
import { parseSvg } from './xml.js'

const OPTS: ChartOptions = { width: 1200, height: 800, zone: 'UTC', lowFreePct: 30, procFile: 'p.tsv', sysFile: 's.log' }
const STAMPS: Record<string, string> = { 'mac-model-switch': '20260225-140300', 'num-parallel-sweep': '20260225-131000', 'seed-loops': '20261122-194420' }
const GIB = 1024 ** 3

async function sample(name: string) {
  const d = join(ROOT, 'samples', name)
  const s = STAMPS[name] as string
  return (await loadTrace(join(d, `ollama-process-memtrace-${s}.tsv`), join(d, `system-memtrace-${s}.log`))).trace
}
const all = (doc: Document, sel: string) => Array.from(doc.querySelectorAll(sel))
const num = (e: Element | null | undefined, a: string) => Number(e?.getAttribute(a))

/** A macOS trace made by hand: `sys(i)` gives sample i's figures, `procs` the runners' RSS in GiB. */
function synthetic(n: number, sys: (i: number) => Partial<SystemSample>, events: TraceEvent[] = []) {
  const b = new TraceBuilder()
  for (let i = 0; i < n; i++) {
    b.addProc({ tsMs: i * 5000, sample: { record: 'process-sample', ts: '', line: 1, pid: 10, ppid: 1, comm: 'ollama', rssKb: 4_000_000, vszKb: 1, command: 'ollama runner --mlx-engine --model a:1b --port 1' } })
    b.addSystem({ tsMs: i * 5000, events: i === 0 ? events : [], sample: { record: 'system-sample', ts: '', line: 1, platform: 'macos', sections: ['vm_stat'], memTotalBytes: 16 * GIB, ...sys(i) } })
  }
  return b.finish()
}

/** The y of a right-axis label (`100%`) and of the host line, in the system panel. */
function systemGeometry(doc: Document) {
  const panel = doc.querySelector('rect[data-panel="system"]')
  const bottom = num(panel, 'y') + num(panel, 'height')
  const right = all(doc, '.panel-system .axis-right text')
  const at = (label: string) => num(right.find(e => e.textContent === label), 'y') - 4
  const host = doc.querySelector('.host-line line')
  return { top: num(panel, 'y'), bottom, at, hostY: num(host, 'y1'), hostLabel: all(doc, '.legend-system text').map(e => e.textContent).find(x => x?.includes('host')), hostText: doc.querySelector('.host-line text'), threshold: num(doc.querySelector('line.threshold'), 'y1') }
}

t.test('system panel: 100 % on the right axis is the host line, and the threshold is 30 % of the host', async t => {
  const doc = parseSvg(renderChart(await sample('mac-model-switch'), OPTS))
  const g = systemGeometry(doc)
  t.equal(g.hostLabel, '32 GiB host = 100%', 'the legend names the host line by its size')
  t.equal(g.hostText, null, 'and no label on the panel covers the samples under it')
  t.ok(Math.abs(g.at('100%') - g.hostY) < 0.6, `100% at the host line (${g.at('100%')} vs ${g.hostY})`)
  t.ok(Math.abs(g.at('0%') - g.bottom) < 0.6, '0% at the bottom')
  t.ok(Math.abs(g.threshold - (g.bottom - 0.3 * (g.bottom - g.hostY))) < 0.6, 'the 30% threshold at 30% of the host height')
  // The left axis says the same: read GiB per pixel off its ticks.
  const left = all(doc, '.panel-system .axis-left text').filter(e => /^\d+(\.\d)?$/.test(e.textContent ?? ''))
  const [a, b] = [left[0], left[left.length - 1]]
  const perPx = (Number(b?.textContent) - Number(a?.textContent)) / (num(a, 'y') - num(b, 'y'))
  t.ok(Math.abs((g.bottom - g.hostY) * perPx - 32) < 0.1, 'the host line sits at 32 GiB on the left axis')
  t.ok(Math.abs(g.hostY - g.top) < 0.6, 'and nothing went past the host, so the axis tops there')
})

t.test('a series above the host memory extends the axis; 100 % stays at the host line', async t => {
  const trace = synthetic(20, i => ({ wiredBytes: (i === 10 ? 20 : 6) * GIB, freePct: 50 }))
  const g = systemGeometry(parseSvg(renderChart(trace, OPTS)))
  t.ok(g.hostY > g.top + 20, 'the host line is below the top of the panel')
  t.ok(Math.abs(g.at('100%') - g.hostY) < 0.6, '100% still at the host line')
})

t.test('one colour per model, never red; runners of one model told apart by dash', async t => {
  const sweep = parseSvg(renderChart(await sample('num-parallel-sweep'), OPTS))
  const runners = all(sweep, 'path.rss-line[data-role="runner"]')
  t.equal(runners.length, 15)
  t.equal(new Set(runners.map(r => r.getAttribute('stroke'))).size, 1, '15 runners of one model share one colour')
  for (let i = 1; i < runners.length; i++) t.not(runners[i]?.getAttribute('stroke-dasharray'), runners[i - 1]?.getAttribute('stroke-dasharray'), `runner ${i + 1} dashed unlike the one before`)
  for (const theme of ['light', 'dark'] as const) {
    const mac = parseSvg(renderChart(await sample('mac-model-switch'), { ...OPTS, theme }))
    const strokes = all(mac, 'path.rss-line[data-role="runner"]').map(r => r.getAttribute('stroke') as string)
    t.equal(new Set(strokes).size, 2, `${theme}: two models, two colours`)
    for (const s of strokes) t.notOk(isRed(s), `${theme}: runner colour ${s} is not red`)
    t.ok(strokes.every(s => s !== THEMES[theme].lowFree))
  }
})

t.test('the process legend groups runners by model and leaves out a process seen once', async t => {
  const sweep = parseSvg(renderChart(await sample('num-parallel-sweep'), OPTS))
  const legend = all(sweep, '.legend-processes text').map(e => e.textContent)
  t.ok(legend.includes('qwen2.5-coder:7b × 15 runners'), legend.join(' | '))
  t.notOk(legend.some(l => /pid 20109/.test(l ?? '')), 'no row per runner')
  const seed = parseSvg(renderChart(await sample('seed-loops'), OPTS))
  t.ok(seed.querySelector('path.rss-line[data-pid="11045"]'), 'the one-sample `ollama ps` call is still drawn')
  t.notOk(all(seed, '.legend-processes text').some(e => /11045|ollama ps/.test(e.textContent ?? '')), 'but has no legend row')
})

t.test('each runner line ends in a label with its model and peak', async t => {
  const trace = await sample('mac-model-switch')
  const doc = parseSvg(renderChart(trace, OPTS))
  for (const s of trace.procs.filter(p => p.role === 'runner')) {
    const label = doc.querySelector(`text.direct-label[data-pid="${s.pid}"]`)?.textContent
    t.equal(label, `${s.model} · peak ${((s.peakRssKb * 1024) / GIB).toFixed(1)} GiB`)
  }
})

t.test('findings: badges numbered like the findings, sentences in the image, the rest counted', async t => {
  let capped = 0
  for (const name of ['mac-model-switch', 'num-parallel-sweep']) {
    const trace = await sample(name)
    const findings = findFindings(trace, { zone: 'UTC', lowFreePct: 30 })
    for (const width of [600, 1200]) {
      const doc = parseSvg(renderChart(trace, { ...OPTS, width, findings }))
      const blocks = all(doc, 'g.finding-text')
      const shown = blocks.map(b => num(b, 'data-n'))
      t.same(shown, findings.slice(0, shown.length).map(f => f.n), `${name} ${width}px: the most important first, in order`)
      t.same(all(doc, 'g.finding').map(g => num(g, 'data-n')).sort((a, b) => a - b), shown, 'a badge on the chart for each sentence shown')
      t.same(all(doc, 'g.finding > text').map(e => Number(e.textContent)).sort((a, b) => a - b), shown, 'the badge says its number')
      blocks.forEach((b, i) => {
        const f = findings[i]
        const lines = Array.from(b.querySelectorAll('text')).slice(1).map(e => e.textContent)
        t.equal(lines.join(' '), f?.text, `finding ${f?.n}: the whole sentence, wrapped`)
        const badge = doc.querySelector(`g.finding[data-n="${f?.n}"]`)
        t.equal(badge?.getAttribute('data-start'), f?.start)
      })
      const lineCount = blocks.reduce((n, b) => n + b.querySelectorAll('text').length - 1, 0)
      t.ok(lineCount <= FINDINGS_LINE_BUDGET, `${lineCount} lines within the budget`)
      const more = doc.querySelector('.findings-more')?.textContent
      if (shown.length < findings.length) capped++
      if (shown.length < findings.length) t.equal(more, `… and ${findings.length - shown.length} more in the report`)
      else t.notOk(more)
    }
  }
  t.ok(capped > 0, 'at 600 px the five sentences of the model switch do not all fit, so the cap is exercised')
})

t.test('a host without swap says so instead of drawing a flat zero line', async t => {
  const none = parseSvg(renderChart(synthetic(10, () => ({ swapTotalBytes: 0, swapUsedBytes: 0, wiredBytes: GIB, freePct: 60 })), OPTS))
  t.notOk(none.querySelector('path.sys-series[data-series="swap-used"]'))
  t.ok(all(none, '.legend-system text').some(e => e.textContent === 'no swap'))
  const some = parseSvg(renderChart(synthetic(10, () => ({ swapTotalBytes: 2 * GIB, swapUsedBytes: 0, wiredBytes: GIB, freePct: 60 })), OPTS))
  t.ok(some.querySelector('path.sys-series[data-series="swap-used"]'), 'swap that exists is drawn, even at zero')
  t.notOk(all(some, '.legend-system text').some(e => e.textContent === 'no swap'))
})

t.test('crowded markers are numbered and listed below; their lines stay inside the panels', async t => {
  const marks: TraceEvent[] = [0, 1, 2, 3].map(i => ({ record: 'trace-event', kind: 'marker', ts: new Date(20_000 + i * 2000).toISOString().replace('.000', ''), line: 1, text: `step ${i + 1}: a long description of what changed` }))
  const doc = parseSvg(renderChart(synthetic(40, () => ({ wiredBytes: GIB, freePct: 60 }), marks), OPTS))
  t.same(all(doc, 'g.marker text').map(e => e.textContent), ['M1', 'M2', 'M3', 'M4'])
  const list = all(doc, '.marker-list text').map(e => e.textContent).join(' ')
  for (const m of marks) t.ok(list.includes(m.text as string), `the list holds "${m.text}"`)
  const panels = all(doc, 'rect.panel').map(p => ({ y0: num(p, 'y'), y1: num(p, 'y') + num(p, 'height') }))
  for (const line of all(doc, 'g.marker line')) {
    t.ok(panels.some(p => num(line, 'y1') >= p.y0 && num(line, 'y2') <= p.y1), 'a marker line stops at its panel edges')
  }
  const roomy = parseSvg(renderChart(synthetic(40, () => ({ wiredBytes: GIB, freePct: 60 }), marks.slice(0, 1)), OPTS))
  t.same(all(roomy, 'g.marker text').map(e => e.textContent), [marks[0]?.text], 'a lone marker keeps its label')
  t.equal(all(roomy, '.marker-list text').length, 0)
})

t.test('a GPU total just above the host memory is drawn below the frame, not on it', async t => {
  const trace = synthetic(20, () => ({ wiredBytes: 6 * GIB, freePct: 50, gpus: [{ index: 0, usedBytes: 2 * GIB, totalBytes: 18 * GIB }] }))
  const doc = parseSvg(renderChart(trace, OPTS))
  const d = doc.querySelector('path.sys-series[data-series="gpu-total"]')?.getAttribute('d') ?? ''
  const ys = [...d.matchAll(/[ML][\d.]+[ ,]([\d.]+)/g)].map(m => Number(m[1]))
  t.ok(ys.length > 0, 'the GPU total is drawn')
  t.ok(Math.min(...ys) > systemGeometry(doc).top + 4, `its line (y ${Math.min(...ys)}) is clear of the panel's top (${systemGeometry(doc).top})`)
})

t.test('a GPU far above the host memory leaves the right axis legible', async t => {
  const trace = synthetic(20, i => ({ wiredBytes: 6 * GIB, freePct: 50, gpus: [{ index: 0, usedBytes: (i > 5 ? 70 : 1) * GIB, totalBytes: 80 * GIB }] }))
  const doc = parseSvg(renderChart(trace, OPTS))
  const ys = all(doc, '.panel-system .axis-right text').map(e => num(e, 'y')).filter(y => y > 0).sort((a, b) => a - b)
  t.ok(ys.length >= 1, `${ys.length} labels`)
  for (let i = 1; i < ys.length; i++) t.ok((ys[i] as number) - (ys[i - 1] as number) >= 14, `labels ${ys[i - 1]} and ${ys[i]} apart`)
  t.ok(Math.abs(systemGeometry(doc).at('100%') - systemGeometry(doc).hostY) < 0.6, '100% still at the host line')
})

t.test('a lone GPU numbered 1 (an AMD card1) is drawn as a lone GPU 0 is: solid used, dashed total', async t => {
  const dashes = (index: number) => {
    const doc = parseSvg(renderChart(synthetic(10, () => ({ freePct: 50, gpus: [{ index, usedBytes: 5 * GIB, totalBytes: 24 * GIB }] })), OPTS))
    return ['gpu-used', 'gpu-total'].map(k => doc.querySelector(`path.sys-series[data-series="${k}"]`)?.getAttribute('stroke-dasharray') ?? 'solid')
  }
  t.same(dashes(1), dashes(0))
  t.same(dashes(0), ['solid', '8 4'])
})

t.test('a GPU whose memory is not read (an Intel card) is said once in the legend, and no line is drawn for it', async t => {
  const doc = parseSvg(renderChart(synthetic(10, () => ({ freePct: 50, gpuUnread: [{ index: 0, name: 'Intel, card0', printed: '0x8086' }] })), OPTS))
  const notes = all(doc, '.legend-system text').map(e => e.textContent).filter(x => x?.includes('not reported'))
  t.same(notes, ['GPU 0 (Intel, card0): memory not reported'])
  t.equal(doc.querySelector('path.sys-series[data-series="gpu-used"]'), null)
})

t.test('two GPUs are two lines told apart', async t => {
  const trace = synthetic(10, () => ({ freePct: 50, gpus: [{ index: 0, usedBytes: 5 * GIB, totalBytes: 24 * GIB }, { index: 1, usedBytes: 9 * GIB, totalBytes: 24 * GIB }] }))
  const doc = parseSvg(renderChart(trace, OPTS))
  const look = (gpu: string, kind: string) => {
    const p = doc.querySelector(`path.sys-series[data-series="${kind}"][data-gpu="${gpu}"]`)
    return `${p?.getAttribute('stroke')} ${p?.getAttribute('stroke-dasharray')}`
  }
  t.not(look('0', 'gpu-used'), look('1', 'gpu-used'))
  t.not(look('0', 'gpu-total'), look('1', 'gpu-total'))
})

t.test('many markers: the list names 20 and counts the rest; numbers stay in the top rows', async t => {
  const marks: TraceEvent[] = Array.from({ length: 60 }, (_, i) => ({ record: 'trace-event', kind: 'marker', ts: new Date(10_000 + i * 3000).toISOString().replace('.000', ''), line: 1, text: `step ${i + 1}` }))
  const doc = parseSvg(renderChart(synthetic(40, () => ({ wiredBytes: GIB, freePct: 60 }), marks), OPTS))
  const list = all(doc, '.marker-list text').map(e => e.textContent).join(' ')
  t.match(list, /M20 \S+ step 20/)
  t.notMatch(list, /M21 /)
  t.match(list, /… and 40 more markers in the report/)
  const top = num(doc.querySelector('rect[data-panel="processes"]'), 'y')
  for (const e of all(doc, 'g.marker text')) t.ok(num(e, 'y') <= top + 13 + 2 * 15 + 0.5, `${e.textContent} in the top three rows`)
})

t.test('a trace within one minute names its seconds in the title, not 00:00 – 00:00', async t => {
  const doc = parseSvg(renderChart(synthetic(8, () => ({ freePct: 60 })), OPTS))
  t.match(doc.querySelector('title')?.textContent ?? '', /1970-01-01 00:00:00 – 00:00:35 UTC \(35 s\)$/)
})

t.test('a trace of one sample still gets distinct time labels', async t => {
  const doc = parseSvg(renderChart(synthetic(1, () => ({ freePct: 60 })), OPTS))
  const labels = all(doc, '.panel-system .axis-time text').map(e => e.textContent)
  t.ok(labels.length >= 5, `${labels.length} ticks`)
  t.equal(new Set(labels).size, labels.length, labels.join(' '))
  t.match(doc.querySelector('title')?.textContent ?? '', /\(0 s\)$/)
})

t.test('time labels are never the same twice: a five-minute trace at 1200 px says the seconds of its half-minute ticks', async t => {
  // 61 samples 5 s apart: five minutes, ticked every 30 s at this width.
  const doc = parseSvg(renderChart(synthetic(61, () => ({ freePct: 60 })), OPTS))
  const labels = all(doc, '.panel-system .axis-time text').map(e => e.textContent)
  t.ok(labels.length >= 8, `${labels.length} ticks`)
  t.equal(new Set(labels).size, labels.length, labels.join(' '))
  t.ok(labels.includes('00:00:30'), 'the half minutes named')
})

t.test('no direct label sits on another runner\'s line (the sweep)', async t => {
  const { textRect } = await import('../chart/rects.js')
  const { textWidth, BOLD } = await import('../chart/text-width.js')
  for (const width of [600, 1200, 2400]) {
    const doc = parseSvg(renderChart(await sample('num-parallel-sweep'), { ...OPTS, width }))
    const lines = all(doc, 'path.rss-line[data-role="runner"]').map(p => ({
      pid: p.getAttribute('data-pid'),
      pts: [...(p.getAttribute('d') ?? '').matchAll(/[ML]([\d.]+),([\d.]+)/g)].map(m => [Number(m[1]), Number(m[2])] as const),
    }))
    for (const label of all(doc, 'text.direct-label')) {
      const a = label.getAttribute('text-anchor')
      const anchor = a === 'end' || a === 'middle' ? a : 'start'
      const r = textRect(num(label, 'x'), num(label, 'y'), textWidth(label.textContent ?? '', 11, BOLD), 11, anchor)
      for (const l of lines) {
        if (l.pid === label.getAttribute('data-pid')) continue
        // Each segment as drawn, cut to the label's columns: where it runs there, not the box around it.
        const hit = l.pts.some(([x, y], i) => {
          const prev = l.pts[i - 1]
          if (!prev || x < r.x || prev[0] > r.x + r.w) return false
          const at = (cx: number) => (x === prev[0] ? y : prev[1] + ((y - prev[1]) * (cx - prev[0])) / (x - prev[0]))
          const ys = x === prev[0] ? [prev[1], y] : [at(Math.max(prev[0], r.x)), at(Math.min(x, r.x + r.w))]
          return Math.max(...ys) >= r.y && Math.min(...ys) <= r.y + r.h
        })
        t.notOk(hit, `${width}px: "${label.textContent}" (pid ${label.getAttribute('data-pid')}) clear of pid ${l.pid}'s line`)
      }
    }
  }
})

t.test('a runner whose line ends on the server line is labelled over its peak instead, clear of every line', async t => {
  const b = new TraceBuilder()
  const row = (i: number, pid: number, kb: number, command: string) =>
    b.addProc({ tsMs: i * 1000, sample: { record: 'process-sample', ts: '', line: 1, pid, ppid: 1, comm: 'ollama', rssKb: kb, vszKb: 1, command } })
  for (let i = 0; i < 60; i++) {
    row(i, 10, 50_000, 'ollama serve')
    if (i >= 10 && i < 50) row(i, 11, i < 48 ? 1_000_000 : 1000, 'ollama runner --mlx-engine --model qwen3:30b --port 1')
    if (i % 5 === 0) b.addSystem({ tsMs: i * 1000, events: [], sample: { record: 'system-sample', ts: '', line: 1, platform: 'macos', sections: ['vm_stat'], memTotalBytes: 16 * GIB, freePct: 60 } })
  }
  const doc = parseSvg(renderChart(b.finish(), OPTS))
  const label = doc.querySelector('text.direct-label[data-pid="11"]')
  t.equal(label?.textContent, 'qwen3:30b · peak 1.0 GiB')
  const serverY = Number(/,([\d.]+)/.exec(doc.querySelector('path.rss-line[data-pid="10"]')?.getAttribute('d') ?? '')?.[1])
  t.ok(num(label, 'y') < serverY - 20, `the label (y ${num(label, 'y')}) is well above the server line (y ${serverY})`)
})

t.test('at 700 px every runner of the container sample is named on its line, even between a decision and a kill', async t => {
  const dir = t.testdir({})
  const out = join(dir, 'c.svg')
  const r = memtrace(['render', '--dir', join(ROOT, 'samples', 'linux-nvidia-container'), '-o', out, '--tz', 'UTC', '--width', '700', '-q'])
  t.equal(r.code, 0, r.stderr)
  const doc = parseSvg(readFileSync(out, 'utf8'))
  const runners = all(doc, 'path.rss-line[data-role="runner"]').map(p => ({ pid: p.getAttribute('data-pid'), model: p.getAttribute('data-model') }))
  t.equal(runners.length, 3)
  for (const { pid, model } of runners) {
    const label = doc.querySelector(`text.direct-label[data-pid="${pid}"]`)?.textContent ?? ''
    t.ok(label.includes(model as string), `runner ${pid}: "${label}" names ${model}`)
  }
})
