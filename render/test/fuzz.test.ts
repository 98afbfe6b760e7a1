import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InputError, loadTrace } from '../load.js'
import { renderChart } from '../chart/render-chart.js'
import { ROOT, rng } from '../../core/test/helpers.js'
import { parseSvg, unsafeParts } from './xml.js'

const HOSTILE = ['<', '>', '&', '"', "'", '\u0000', '\u0001', '\u001b[31m', '\t', '\r', ']]>', '<!--', '<script>', '\uFFFF', '\u202e', '=====', '{', '}', '%s']
const SAMPLE = join(ROOT, 'samples', 'mac-model-switch')
const procLines = readFileSync(join(SAMPLE, 'ollama-process-memtrace-20260225-140300.tsv'), 'utf8').split('\n').slice(0, 160)
const sysLines = readFileSync(join(SAMPLE, 'system-memtrace-20260225-140300.log'), 'utf8').split('\n').slice(0, 400)

function damage(lines: string[], r: () => number): Buffer {
  const out = [...lines]
  const edits = 1 + Math.floor(r() * 12)
  for (let e = 0; e < edits; e++) {
    const i = Math.floor(r() * out.length)
    const line = out[i] ?? ''
    const at = Math.floor(r() * (line.length + 1))
    switch (Math.floor(r() * 7)) {
      case 0: out[i] = line.slice(0, at) + HOSTILE[Math.floor(r() * HOSTILE.length)] + line.slice(at); break
      case 1: out[i] = line.slice(0, at); break
      case 2: out.splice(i, 1); break
      case 3: out.splice(i, 0, line); break
      case 4: out.splice(i, 0, out[Math.floor(r() * out.length)] ?? ''); break
      case 5: out[i] = line.replace(/\d/g, d => String((Number(d) + 7) % 10)); break
      default: out[i] = Array.from({ length: 1 + Math.floor(r() * 40) }, () => String.fromCharCode(Math.floor(r() * 0xd7ff))).join('')
    }
  }
  const text = Buffer.from(out.join('\n'))
  if (r() < 0.3) {
    // invalid UTF-8 bytes
    const b = Buffer.concat([text, Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])])
    return r() < 0.5 ? b : b.subarray(0, Math.floor(r() * b.length))
  }
  return r() < 0.3 ? text.subarray(0, Math.floor(r() * text.length)) : text
}

t.test('damaged and hostile traces always give well-formed, safe SVG or a clear error', async t => {
  const dir = t.testdir({})
  let drawn = 0
  let refused = 0
  for (let i = 0; i < 150; i++) {
    const r = rng(1000 + i)
    const p = join(dir, 'p.tsv')
    const s = join(dir, 's.log')
    writeFileSync(p, damage(procLines, r))
    writeFileSync(s, damage(sysLines, r))
    let svg: string
    try {
      const { trace } = await loadTrace(p, s)
      svg = renderChart(trace, { width: 900, height: 600, zone: 'UTC', lowFreePct: 30, procFile: 'p.tsv', sysFile: 's.log' })
    } catch (e) {
      if (!(e instanceof InputError)) throw new Error(`iteration ${i}: ${(e as Error).stack}`)
      refused++
      continue
    }
    let doc: Document
    try {
      doc = parseSvg(svg)
    } catch (e) {
      t.fail(`iteration ${i}: ${(e as Error).message}`)
      continue
    }
    const unsafe = unsafeParts(doc)
    if (unsafe.length) t.fail(`iteration ${i}: ${unsafe.join(', ')}`)
    drawn++
  }
  t.ok(drawn > 100, `${drawn} drawn, ${refused} refused with a clear error`)
})
