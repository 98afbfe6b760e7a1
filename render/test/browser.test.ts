import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { Resvg } from '@resvg/resvg-js'
import { memtrace, ROOT } from './helpers.js'
import { blend, countColor, decodePng } from './png.js'

const CHROMIUM = '/usr/bin/chromium'
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
  const page = await browser.newPage({ viewport: { width: 1200, height: 820 } })
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
  await page.setViewportSize({ width: 1200, height })
  const img = decodePng(await page.screenshot())
  for (const c of runnerColors) t.ok(countColor(img, c, 30) > 200, `runner colour ${c} visible`)
  t.ok(countColor(img, blend('#e0302b', 0.22), 6) > 5000, 'red low-free band visible')
  t.ok(countColor(img, blend('#f5a623', 0.22), 6) > 1000, 'overlap highlight visible')
})

t.test('a second renderer (resvg) draws the same chart', async t => {
  const dir = t.testdir({})
  const { svg, runnerColors } = renderSample(dir)
  const png = new Resvg(svg, { font: { loadSystemFonts: true } }).render().asPng()
  const img = decodePng(Buffer.from(png))
  t.equal(img.width, 1200)
  for (const c of runnerColors) t.ok(countColor(img, c, 30) > 200, `runner colour ${c} drawn`)
  t.ok(countColor(img, blend('#e0302b', 0.22), 6) > 5000, 'red band drawn')
})
