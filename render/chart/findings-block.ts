/**
 * The findings as numbered sentences inside the image, below the panels:
 * a picture pasted into an issue has no hover, so what memtrace concluded
 * must be in the pixels. Most important first, within a line budget; the
 * rest are counted ("… and 3 more in the report").
 */
import type { Finding } from '../../schemas/index.js'
import { badge, badgeWidth } from './badges.js'
import type { Theme } from './style.js'
import { el, text } from '../../core/svg.js'
import { BOLD, fitText, wrapText } from './text-width.js'

/** At most this many lines of sentences, so a long trace cannot bury the panels. */
export const FINDINGS_LINE_BUDGET = 14

const FONT = 11.5
const LINE = 15
const HEAD = 12.5
const INDENT = 30

export interface FindingsBlock {
  /** The findings whose sentences are printed (and so get a badge on the chart). */
  shown: Finding[]
  height: number
  draw(top: number): string
}

/** Sentences wrapped to `width` px starting at x0; empty when `findings` is undefined. */
export function findingsBlock(findings: Finding[] | undefined, x0: number, width: number, zone: string, th: Theme): FindingsBlock {
  if (findings === undefined) return { shown: [], height: 0, draw: () => '' }
  const heading = fitText(findings.length ? `What memtrace found (times in ${zone}), most important first` : 'What memtrace found', HEAD, width, BOLD)
  if (findings.length === 0) {
    const none = fitText('No findings: no runner killed, no low free memory, no overlap while memory was short, no gaps.', FONT, width)
    return { shown: [], height: 20 + LINE + 6, draw: top => el('g', { class: 'findings-list' }, text({ x: x0, y: top + 14, 'font-size': HEAD, 'font-weight': 600, fill: th.heading }, heading), text({ x: x0, y: top + 20 + 12, 'font-size': FONT, fill: th.text }, none)) }
  }
  const ordered = [...findings].sort((a, b) => a.n - b.n)
  const textW = width - INDENT
  const blocks: { f: Finding; lines: string[] }[] = []
  let used = 0
  for (const f of ordered) {
    let lines = wrapText(f.text, FONT, textW)
    if (blocks.length === 0 && lines.length > FINDINGS_LINE_BUDGET) {
      lines = lines.slice(0, FINDINGS_LINE_BUDGET)
      lines[lines.length - 1] = fitText(`${lines[lines.length - 1]} …`, FONT, textW)
    }
    if (used + lines.length > FINDINGS_LINE_BUDGET) break
    blocks.push({ f, lines })
    used += lines.length
  }
  const more = ordered.length - blocks.length
  const height = 20 + used * LINE + blocks.length * 4 + (more > 0 ? LINE + 4 : 0) + 4
  return {
    shown: blocks.map(b => b.f),
    height,
    draw(top: number): string {
      const parts = [text({ x: x0, y: top + 14, 'font-size': HEAD, 'font-weight': 600, fill: th.heading }, heading)]
      let y = top + 20
      for (const { f, lines } of blocks) {
        const items = lines.map((l, i) => text({ x: x0 + INDENT, y: y + 11 + i * LINE, 'font-size': FONT, fill: th.text }, l))
        parts.push(el('g', { class: 'finding-text', 'data-n': f.n, 'data-kind': f.kind }, badge(f.n, x0 + badgeWidth(f.n) / 2, y + 7, th), ...items))
        y += lines.length * LINE + 4
      }
      if (more > 0) parts.push(text({ class: 'findings-more', x: x0 + INDENT, y: y + 11, 'font-size': FONT, 'font-style': 'italic', fill: th.muted }, `… and ${more} more in the report`))
      return el('g', { class: 'findings-list' }, ...parts)
    },
  }
}
