// The faster ways of working things out, held against the plain ones they
// replace, on random inputs: each must give the same answer, always.
import t from 'tap'
import { d3PathOf, pathOf } from '../chart/proc-panel.js'
import { pixelPath, toPixels, type Pt } from '../chart/decimate.js'
import { Column, SampleLog, timesOf } from '../../core/model/samples.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { Lifetimes, lowerBound, snapsBetween, Spans, upperBound } from '../findings/lookup.js'
import { rng } from '../../core/test/helpers.js'
import { PointGrid } from '../chart/point-grid.js'

t.test('paths are written as d3 writes them: runs, breaks, lone points, rounding', async t => {
  const wrong: number[] = []
  for (let seed = 0; seed < 3000; seed++) {
    const r = rng(seed)
    const pts: Pt[] = Array.from({ length: Math.floor(r() * 14) }, () => {
      const k = r()
      if (k < 0.25) return null
      const v = () => (k < 0.3 ? NaN : k < 0.35 ? -0.04 : k < 0.4 ? 1e21 * r() : (r() - 0.3) * 2000)
      return [v(), v()] as const
    })
    if (pathOf(pts) !== d3PathOf(pts)) wrong.push(seed)
  }
  t.same(wrong, [], 'every seed')
})

const series = (r: () => number, n: number) =>
  Array.from({ length: n }, () => {
    const start = Math.floor(r() * 50)
    const tsMs = Array.from({ length: Math.floor(r() * 20) }, (_, i) => (start + i * (1 + Math.floor(r() * 3))) * 1000)
    return { tsMs, rssKb: tsMs.map(() => (r() < 0.3 ? 0 : Math.floor(r() * 1e6))) }
  })

t.test('sample times: sorted and counted as a map of times would', async t => {
  const wrong: number[] = []
  for (let seed = 0; seed < 300; seed++) {
    const r = rng(seed)
    const ss = series(r, Math.floor(r() * (seed % 3 === 0 ? 40 : 8)))
    if (seed % 5 === 0 && ss[0]) ss[0].tsMs.reverse() // one out of order: sorted, not merged
    if (seed % 7 === 0 && ss[1]) ss[1].tsMs = ss[1].tsMs.map(ms => ms + 0.25) // off any grid of whole numbers
    if (seed % 11 === 0 && ss[2]) ss[2].tsMs = ss[2].tsMs.map(ms => ms * 1e6) // a grid too sparse to count in slots
    const keep = (k: number, i: number) => (ss[k]?.rssKb[i] as number) > 0
    const counts = new Map<number, number>()
    ss.forEach((s, k) => s.tsMs.forEach((ms, i) => keep(k, i) && counts.set(ms, (counts.get(ms) ?? 0) + 1)))
    const times = [...counts.keys()].sort((a, b) => a - b)
    const got = timesOf(ss, keep)
    if (JSON.stringify({ times: [...got.times], counts: [...got.counts] }) !== JSON.stringify({ times, counts: times.map(ms => counts.get(ms)) })) wrong.push(seed)
  }
  t.same(wrong, [], 'every seed')
})

t.test('columns hand over what was pushed, short and long', async t => {
  for (const n of [0, 1, 7, 1023, 1024, 1025, 5000]) {
    const c = Column.ofNaN(n % 3)
    const want: number[] = Array.from({ length: n % 3 }, () => NaN)
    for (let i = 0; i < n; i++) {
      c.push(i * 1.5)
      want.push(i * 1.5)
    }
    t.same([...c.values()], want, `${n} values`)
    t.equal(c.length, want.length)
    if (want.length) t.equal(c.last, want[want.length - 1])
  }
})

t.test('the sample log hands each series what was pushed for it, in order, and leaves out the others', async t => {
  for (const rows of [0, 1, 5000, 70_000, 140_000]) {
    const log = new SampleLog()
    const r = rng(rows)
    const want = new Map<number, { ts: number[]; vals: number[] }>()
    for (let i = 0; i < rows; i++) {
      const owner = want.size === 0 || r() < 0.01 ? log.add() : Math.floor(r() * want.size)
      if (!want.has(owner)) want.set(owner, { ts: [], vals: [] })
      const w = want.get(owner) as { ts: number[]; vals: number[] }
      const tsMs = i * 1000 + (r() < 0.1 ? 0.5 : 0)
      const v = r() < 0.05 ? NaN : Math.floor(r() * 1e7)
      log.push(owner, tsMs, v)
      w.ts.push(tsMs)
      w.vals.push(v)
    }
    t.equal(log.length, rows)
    const kept = [...want.keys()].filter(o => o % 3 !== 1).reverse()
    const got = log.split(kept)
    t.same(got.map(g => [[...g.ts], [...g.vals]]), kept.map(o => [want.get(o)?.ts, want.get(o)?.vals]), `${rows} rows, ${want.size} series`)
    t.equal(log.length, 0, 'the log is emptied')
  }
})

t.test('lifetimes and snapshot ranges answer as passes over everything do', async t => {
  const wrong = new Set<number>()
  for (let seed = 0; seed < 300; seed++) {
    const r = rng(seed)
    const runners = series(r, Math.floor(r() * 10)).filter(s => s.tsMs.length > 0) as unknown as ProcSeries[]
    const lives = new Lifetimes(runners)
    for (let q = 0; q < 20; q++) {
      const at = Math.floor(r() * 120) * 500
      const except = r() < 0.5 ? runners[Math.floor(r() * runners.length)] : undefined
      const want = runners.some(o => o !== except && (o.tsMs[0] as number) <= at && (o.tsMs[o.tsMs.length - 1] as number) >= at)
      if (lives.any(at, at, except) !== want) wrong.add(seed)
      // The next start after a runner's own, as a pass over every other runner found it.
      const last = at + Math.floor(r() * 60) * 500
      let end = last
      for (const o of runners) if ((o.tsMs[0] as number) > at && (o.tsMs[0] as number) <= end) end = (o.tsMs[0] as number) - 1
      const next = lives.firstAfter(at)
      if ((next !== undefined && next <= last ? next - 1 : last) !== end) wrong.add(seed)
    }
    // Runners alive in a span, with some that have no samples at all.
    const all = series(r, Math.floor(r() * 12)) as unknown as ProcSeries[]
    const spans = new Spans(all)
    for (let q = 0; q < 20; q++) {
      const from = Math.floor(r() * 120) * 500
      const to = from + Math.floor(r() * 30) * 500
      const want = all.filter(s => (s.tsMs[0] as number) <= to && (s.tsMs[s.tsMs.length - 1] as number) >= from)
      const got = spans.between(from, to)
      if (got.length !== want.length || got.some((s, i) => s !== want[i])) wrong.add(seed)
    }
    const times = Array.from({ length: Math.floor(r() * 30) }, () => Math.floor(r() * 40) * 1000).sort((a, b) => a - b)
    const snaps = times.map(tsMs => ({ tsMs, models: [] }))
    const from = Math.floor(r() * 40) * 1000
    const to = from + Math.floor(r() * 20 - 5) * 1000
    const between = snapsBetween(snaps, times, from, to)
    const filtered = snaps.filter(s => s.tsMs >= from && s.tsMs <= to)
    if (between.length !== filtered.length || between.some((s, i) => s !== filtered[i])) wrong.add(seed)
    if (upperBound(times, from) !== times.filter(ms => ms <= from).length) wrong.add(seed)
    if (lowerBound(times, from) !== times.filter(ms => ms < from).length) wrong.add(seed)
  }
  t.same([...wrong], [], 'every seed')
})

/** The decimation as it was written before it streamed its points: the reference. */
function plainToPixels(
  ts: ArrayLike<number>,
  vals: ArrayLike<number>,
  x: (t: number) => number,
  y: (v: number) => number,
  gapMs: number,
  widthPx: number,
): Pt[] {
  const n = ts.length
  const decimate = n > 4 * widthPx
  const out: Pt[] = []
  let bucket = NaN
  let first = -1
  let lo = -1
  let hi = -1
  let last = -1
  const flush = () => {
    if (first < 0) return
    const idx = [first, lo, hi, last].sort((a, b) => a - b)
    let prev = -1
    for (const i of idx) {
      if (i !== prev) push(x(ts[i] as number), y(vals[i] as number))
      prev = i
    }
    first = lo = hi = last = -1
  }
  // Points that round to the same place add bytes and nothing else.
  const push = (px: number, py: number) => {
    const last = out[out.length - 1]
    if (last && Math.abs(last[0] - px) < 0.05 && Math.abs(last[1] - py) < 0.05) return
    out.push([px, py])
  }
  const brk = () => {
    flush()
    if (out.length > 0 && out[out.length - 1] !== null) out.push(null)
  }
  for (let i = 0; i < n; i++) {
    const v = vals[i] as number
    if (Number.isNaN(v)) {
      brk()
      continue
    }
    if (i > 0 && (ts[i] as number) - (ts[i - 1] as number) > gapMs) brk()
    if (!decimate) {
      push(x(ts[i] as number), y(v))
      continue
    }
    const b = Math.floor(x(ts[i] as number))
    if (b !== bucket) {
      flush()
      bucket = b
    }
    if (first < 0) {
      first = lo = hi = last = i
      continue
    }
    if (v < (vals[lo] as number)) lo = i
    if (v > (vals[hi] as number)) hi = i
    last = i
  }
  flush()
  while (out.length > 0 && out[out.length - 1] === null) out.pop()
  return out
}

t.test('decimation streams the points and breaks the plain version made, and writes the same path', async t => {
  const wrong: number[] = []
  for (let seed = 0; seed < 400; seed++) {
    const r = rng(seed)
    const n = Math.floor(r() * (r() < 0.3 ? 3000 : 60))
    const ts: number[] = []
    const vals: number[] = []
    let at = 0
    for (let i = 0; i < n; i++) {
      at += r() < 0.05 ? 20_000 : r() < 0.05 ? 0 : 1000
      ts.push(at)
      vals.push(r() < 0.05 ? NaN : r() < 0.3 ? (vals[i - 1] ?? 1) : Math.floor(r() * 1000))
    }
    const width = 50 + Math.floor(r() * 400)
    const x = (ms: number) => 10 + (ms / Math.max(1, at)) * width
    const y = (v: number) => 300 - v * (r() < 0.5 ? 0.3 : 0.0001)
    const ys = vals.map(y)
    const yOf = (v: number) => ys[vals.indexOf(v)] ?? NaN
    const plain = plainToPixels(ts, vals, x, yOf, 2500, width)
    if (JSON.stringify(toPixels(ts, vals, x, yOf, 2500, width)) !== JSON.stringify(plain)) wrong.push(seed)
    if (pixelPath(ts, vals, x, yOf, 2500, width) !== pathOf(plain)) wrong.push(-seed - 1)
  }
  t.same(wrong, [], 'every seed')
})

t.test('the plain linear mapping gives the numbers d3 gives, bit for bit', async t => {
  const { scaleLinear } = await import('d3-scale')
  const { fastLinear } = await import('../chart/linear.js')
  const wrong: string[] = []
  for (let seed = 0; seed < 300; seed++) {
    const r = rng(seed)
    const d0 = r() < 0.5 ? 1.77e12 + Math.floor(r() * 1e9) : r() * 100
    const d1 = r() < 0.1 ? d0 : r() < 0.2 ? d0 - r() * 1e6 : d0 + r() * (r() < 0.5 ? 86_400_000 : 50)
    const s = scaleLinear().domain([d0, d1]).range([r() * 500, r() * 1200])
    if (r() < 0.3) s.nice()
    const f = fastLinear(s)
    for (let i = 0; i < 200; i++) {
      const v = i === 0 ? NaN : i === 1 ? d0 : i === 2 ? d1 : d0 + (r() - 0.2) * (d1 - d0 || 1000) * 1.5
      if (!Object.is(f(v), s(v))) wrong.push(`seed ${seed}: ${v}`)
    }
  }
  t.same(wrong, [], 'every value')
})

t.test('timestamps in the trace’s own form read as the pattern reads them', async t => {
  const { parseTs } = await import('../../core/parse/time.js')
  const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})Z$/
  const plain = (s: string) => {
    const m = ISO.exec(s)
    if (!m) return undefined
    const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number]
    return mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ? NaN : Date.UTC(y, mo - 1, d, h, mi, sec)
  }
  const wrong: string[] = []
  const chars = '0123456789-:TZ .+x'
  for (let seed = 0; seed < 20000; seed++) {
    const r = rng(seed)
    let s = new Date(Date.UTC(1 + Math.floor(r() * 9998), 0, 1) + r() * 3e11).toISOString().replace(/\.\d{3}Z$/, 'Z')
    for (let e = Math.floor(r() * 3); e > 0; e--) {
      const i = Math.floor(r() * s.length)
      s = s.slice(0, i) + chars[Math.floor(r() * chars.length)] + s.slice(i + 1)
    }
    const want = plain(s)
    if (want !== undefined && !Object.is(parseTs(s), want)) wrong.push(s)
  }
  t.same(wrong, [], 'every timestamp')
})

t.test('text that needs no escaping is left as the escaping would leave it', async t => {
  const { esc } = await import('../../core/svg.js')
  const { printable } = await import('../../core/safe-text.js')
  const INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
  const E: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
  const slow = (s: string) => printable(s.replace(INVALID, '\uFFFD')).replace(/[&<>"']/g, c => E[c] as string)
  const wrong: string[] = []
  for (let seed = 0; seed < 3000; seed++) {
    const r = rng(seed)
    const s = Array.from({ length: Math.floor(r() * 30) }, () => String.fromCharCode(r() < 0.8 ? 0x20 + Math.floor(r() * 0x5f) : Math.floor(r() * 0x2100))).join('')
    if (esc(s) !== slow(s)) wrong.push(JSON.stringify(s))
  }
  t.same(wrong, [], 'every text')
})

t.test('path numbers read as one decimal does, whatever the value', async t => {
  const { pixelPath } = await import('../chart/decimate.js')
  const wrong: number[] = []
  const r = rng(7)
  const vals = [0, -0, 0.04, -0.04, 0.05, -0.05, 0.15, -0.15, 1e13 + 0.06, -1e14, 99999999999999.9, 1e15, 1e21, 3e300, Infinity, -Infinity]
  for (let i = 0; i < 20000; i++) vals.push((r() - 0.5) * 10 ** Math.floor(r() * 16), Math.round((r() - 0.5) * 20000) / 10)
  for (const v of vals) {
    const path = pixelPath([0], [1], () => v, () => v, 1000, 100)
    const want = `M${Math.round(v * 10) / 10},${Math.round(v * 10) / 10}Z`
    if (path !== want) wrong.push(v)
  }
  t.same(wrong, [], 'every value')
})

t.test('a spot the point grid rules out has a sample of some line inside it, and one with a sample well inside is ruled out', async t => {
  const wrong = new Set<number>()
  let ruledOut = 0
  for (let seed = 0; seed < 200; seed++) {
    const r = rng(seed)
    const ss = series(r, 1 + Math.floor(r() * 30)) as unknown as ProcSeries[]
    for (const s of ss) if (r() < 0.2 && s.rssKb.length > 0) (s.rssKb as unknown as number[])[0] = NaN // a gap: no point
    const box = { x: 40.5 + r() * 10, y: 20.25 + r() * 10, w: 300 + r() * 200, h: 150 + r() * 100 }
    const x = (ms: number) => box.x + (ms / 120_000) * box.w
    const y = (kb: number) => box.y + box.h - (kb / 1e6) * box.h
    const grid = new PointGrid(ss, x, y, box)
    const points = ss.flatMap(s => [...s.tsMs].flatMap((ms, i) => (Number.isNaN(s.rssKb[i]) ? [] : [[x(ms as number), y(s.rssKb[i] as number)] as const])))
    for (let q = 0; q < 50; q++) {
      const rect = { x: box.x - 20 + r() * (box.w + 20), y: box.y - 10 + r() * (box.h + 10), w: r() * 60, h: 4 + r() * 20 }
      const within = (m: number) => points.some(([px, py]) => px >= rect.x - m && px <= rect.x + rect.w + m && py >= rect.y - m && py <= rect.y + rect.h + m)
      const got = grid.anyIn(rect, 2)
      if (got) ruledOut++
      // Never ruled out without a sample inside (the 2 px pad included); always with one 1 px inside the padded box, within the panel.
      const deep = points.some(([px, py]) => px >= rect.x - 1 && px <= rect.x + rect.w + 1 && py >= rect.y - 1 && py <= rect.y + rect.h + 1 && px >= box.x && px < box.x + box.w - 1 && py >= box.y && py < box.y + box.h - 1)
      if ((got && !within(2)) || (deep && !got)) wrong.add(seed)
    }
  }
  t.same([...wrong], [], 'every answer as the samples give it')
  t.ok(ruledOut > 500, `the grid ruled out ${ruledOut} spots: the check above is not empty`)
})

t.test('a listed model is kept once: the one found in the list before is the one its key gives', async t => {
  const { SharedModels } = await import('../../core/model/shared-models.js')
  type M = import('../../schemas/index.js').LoadedModel
  const wrong: number[] = []
  for (let seed = 0; seed < 300; seed++) {
    const r = rng(seed)
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)] as T
    // Few distinct values, so lists repeat and overlap, and models differ in one field only: -0 and 0, a number and its text.
    const model = (): M => {
      const m = { source: pick(['api-ps', 'ollama-ps']), name: pick(['a:7b', 'b:8b', 'c']), sizeBytes: pick([1e9, 0, -0, 2e9]) } as M
      const vram = pick([undefined, 1e9, -0, 0])
      if (vram !== undefined) m.sizeVramBytes = vram
      if (r() < 0.5) m.contextLength = pick([4096, 8192])
      if (r() < 0.5) m.digest = pick(['d1', 'd2'])
      if (r() < 0.3) (m as { server?: unknown }).server = pick([':11434', ':11435', 11434])
      return m
    }
    const shared = new SharedModels()
    const keyed = new Map<string, M>()
    const key = (m: M) => JSON.stringify([m.source, m.name, m.sizeBytes, m.sizeVramBytes, m.contextLength, m.digest, m.server].map(v => (Object.is(v, -0) ? '-0' : typeof v === 'number' ? `n${v}` : v === undefined ? '-' : `s${v}`)))
    let prev: M[] | undefined
    let prevPlain: M[] | undefined
    for (let k = 0; k < 40; k++) {
      const list = prev && r() < 0.7 ? prev.map(m => (r() < 0.8 ? { ...m } : model())).filter(() => r() < 0.9) : Array.from({ length: Math.floor(r() * 6) }, model)
      if (r() < 0.5) list.reverse()
      const got = shared.share(list, prev)
      // The plain way: every model by its key, the first object kept for it; a list equal to the one before is that list.
      const same = (a: M, b: M) => a.name === b.name && a.sizeBytes === b.sizeBytes && a.sizeVramBytes === b.sizeVramBytes && a.contextLength === b.contextLength && a.digest === b.digest && a.server === b.server
      const plain = prevPlain && prevPlain.length === list.length && prevPlain.every((m, i) => same(m, list[i] as M)) ? prevPlain : list.map(m => keyed.get(key(m)) ?? (keyed.set(key(m), m), m))
      if (got.length !== plain.length || got.some((m, i) => key(m) !== key(plain[i] as M))) wrong.push(seed)
      // The same object wherever the plain way gives the same object.
      for (let i = 0; i < got.length; i++) for (let j = 0; j < i; j++) if ((got[i] === got[j]) !== (plain[i] === plain[j])) wrong.push(seed)
      prev = got
      prevPlain = plain
    }
  }
  t.same([...new Set(wrong)], [], 'every seed')
})

t.test('text gathered as bytes in chunks reads back as the text joined, whatever crosses a chunk', async t => {
  const { ByteSink } = await import('../chart/byte-sink.js')
  const wrong: number[] = []
  for (let seed = 0; seed < 20; seed++) {
    const r = rng(seed)
    const word = () => {
      const k = r()
      // Short text, text past a third of a chunk, text of two- and three-byte characters and surrogate pairs.
      if (k > 0.97) return `${'x'.repeat(Math.floor(r() * 3))}${(r() < 0.5 ? 'é·—' : 'ab😀').repeat(30_000 + Math.floor(r() * 60_000))}`
      return Array.from({ length: Math.floor(r() * (k < 0.9 ? 40 : 2000)) }, () => (r() < 0.9 ? String.fromCharCode(0x20 + Math.floor(r() * 0x5f)) : r() < 0.5 ? 'é·—' : '😀')).join('')
    }
    const parts: string[] = []
    const whole = new ByteSink()
    for (let i = 0; i < 400; i++) {
      const k = r()
      if (k < 0.8) {
        const w = word()
        parts.push(w)
        whole.add(w)
      } else if (k < 0.9) {
        const v = (r() - 0.5) * 10 ** Math.floor(r() * 17)
        parts.push(String(Math.round(v * 10) / 10))
        whole.tenths(v)
      } else {
        const other = new ByteSink()
        const ws = Array.from({ length: Math.floor(r() * 5) }, word)
        for (const w of ws) other.add(w)
        parts.push(...ws)
        whole.append(other)
      }
    }
    const size = whole.size
    const text = whole.text()
    if (text !== parts.join('') || size !== Buffer.byteLength(text)) wrong.push(seed)
  }
  t.same(wrong, [], 'every seed')
})
