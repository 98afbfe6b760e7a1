import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { Resvg } from '@resvg/resvg-js'
import { memtrace, ROOT } from '../../core/test/helpers.js'
import { blend, countColor, decodePng } from './png.js'
import { THEMES } from '../chart/style.js'

const CHROMIUM = '/usr/bin/chromium'
const th = THEMES.light
const SAMPLE = join(ROOT, 'samples', 'mac-model-switch')

/** Renders the macOS sample as a user would, and reads back what the lines are drawn with. */
function renderSample(dir: string) {
  const out = join(dir, 'chart.svg')
  const r = memtrace(['render', join(SAMPLE, 'ollama-process-memtrace-20260225-140300.tsv'), join(SAMPLE, 'system-memtrace-20260225-140300.log'), out, '--tz', 'UTC'])
  if (r.code !== 0) throw new Error(r.stderr)
  const svg = readFileSync(out, 'utf8')
  const runnerColors = [...svg.matchAll(/class="rss-line"[^>]*data-role="runner"[^>]*stroke="(#[0-9a-f]{6})"/g)].map(m => m[1] as string)
  return { out, svg, runnerColors }
}

t.test('Chromium opens the SVG: panels, lines and bands are on screen, no errors', async t => {
  t.ok(existsSync(CHROMIUM), 'Debian chromium is installed (make browser)')
  const dir = t.testdir({})
  const { out, runnerColors } = renderSample(dir)
  t.equal(runnerColors.length, 2)
  // Playwright gives the browser a fresh, empty profile of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 900, height: 820 } })
  const errors: string[] = []
  const requests: string[] = []
  page.on('pageerror', e => errors.push(e.message))
  page.on('console', m => m.type() === 'error' && errors.push(m.text()))
  page.on('request', r => requests.push(r.url()))
  await page.goto(pathToFileURL(out).href)
  t.same(errors, [], 'no errors in the page')
  t.same(requests.filter(u => !u.startsWith('file:')), [], 'nothing fetched from elsewhere')
  const geometry = await page.evaluate(() => {
    const q = (s: string) => Array.from(document.querySelectorAll(s)) as unknown as SVGGraphicsElement[]
    return {
      panels: q('rect.panel').map(r => r.getBoundingClientRect().height),
      lines: q('path.rss-line[data-role="runner"]').map(p => (p as unknown as SVGPathElement).getTotalLength()),
      series: q('path.sys-series').length,
    }
  })
  t.equal(geometry.panels.length, 2)
  t.ok(geometry.panels.every(h => h > 150), `both panels have height: ${geometry.panels}`)
  t.ok(geometry.lines.every(l => l > 200), 'runner lines are drawn')
  t.equal(geometry.series, 5)
  // Size the window to the chart (fullPage screenshots of a bare SVG document hang in headless Chromium).
  const height = await page.evaluate(() => Number(document.documentElement.getAttribute('height')))
  await page.setViewportSize({ width: 900, height })
  const img = decodePng(await page.screenshot())
  for (const c of runnerColors) t.ok(countColor(img, c, 30) > 200, `runner colour ${c} visible`)
  t.ok(countColor(img, blend(th.lowFree, th.lowFreeOpacity, th.panel), 6) > 5000, 'red low-free band visible')
  t.ok(countColor(img, th.overlap, 6) > 150, 'overlap highlight visible (its solid edge)')
})

t.test('a second renderer (resvg) draws the same chart', async t => {
  const dir = t.testdir({})
  const { svg, runnerColors } = renderSample(dir)
  const png = new Resvg(svg, { font: { loadSystemFonts: true } }).render().asPng()
  const img = decodePng(Buffer.from(png))
  t.equal(img.width, 900, 'the default width')
  for (const c of runnerColors) t.ok(countColor(img, c, 30) > 200, `runner colour ${c} drawn`)
  t.ok(countColor(img, blend(th.lowFree, th.lowFreeOpacity, th.panel), 6) > 5000, 'red band drawn')
})

const SAMPLES = ['mac-model-switch', 'num-parallel-sweep', 'linux-nvidia-container', 'seed-loops', 'seed-loop-linux']
const WIDTHS = [600, 1200, 2400]
const THEME_NAMES = ['light', 'dark']

interface Box {
  text: string
  x: number
  y: number
  w: number
  h: number
}

const overlap = (a: Box, b: Box) => Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 0.5 && Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 0.5

// Every sample at three widths in both themes, as Chromium lays the text out
// with this machine's fonts: no text leaves the canvas, no two texts overlap.
t.test('no text is cut off or overlaps other text, at 600, 1200 and 2400 px, light and dark', async t => {
  const dir = t.testdir({})
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 2400, height: 1000 } })
  for (const sample of SAMPLES) {
    for (const width of WIDTHS) {
      for (const theme of THEME_NAMES) {
        const out = join(dir, `${sample}-${width}-${theme}.svg`)
        const r = memtrace(['render', '--dir', join(ROOT, 'samples', sample), '-o', out, '--tz', 'UTC', '--quiet', '--width', String(width), '--theme', theme])
        t.equal(r.code, 0, r.stderr)
        await page.goto(pathToFileURL(out).href)
        const { boxes, canvas } = await page.evaluate(() => {
          const root = document.documentElement
          const texts = Array.from(document.querySelectorAll('text')).filter(e => (e.textContent ?? '').trim() !== '')
          return {
            canvas: { w: Number(root.getAttribute('width')), h: Number(root.getAttribute('height')) },
            boxes: texts.map(e => {
              const r = e.getBoundingClientRect()
              return { text: e.textContent ?? '', x: r.x, y: r.y, w: r.width, h: r.height }
            }),
          }
        })
        const name = `${sample} ${width}px ${theme}`
        const outside = boxes.filter(b => b.x < -0.5 || b.y < -0.5 || b.x + b.w > canvas.w + 0.5 || b.y + b.h > canvas.h + 0.5)
        t.same(outside.map(b => b.text), [], `${name}: every text inside the ${canvas.w}×${canvas.h} canvas`)
        const pairs: string[] = []
        for (let i = 0; i < boxes.length; i++) {
          for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i] as Box
            const b = boxes[j] as Box
            if (overlap(a, b)) pairs.push(`"${a.text.slice(0, 40)}" × "${b.text.slice(0, 40)}"`)
          }
        }
        t.same(pairs, [], `${name}: no two texts overlap`)
      }
    }
  }
})

t.test('the samples render at every width without the time zone missing from the title', async t => {
  for (const sample of SAMPLES) {
    const dir = t.testdir({})
    const out = join(dir, 'c.svg')
    t.equal(memtrace(['render', '--dir', join(ROOT, 'samples', sample), '-o', out, '--tz', 'America/New_York', '--quiet', '--width', '600']).code, 0)
    t.match(readFileSync(out, 'utf8'), /<title>[^<]*America\/New_York/)
  }
})
