/**
 * Text width without a DOM. The SVG is laid out before any font is known,
 * so widths are estimated on the wide side: per-character advances of DejaVu
 * Sans (the widest of the fonts the chart's font list falls back to),
 * which are at least as wide as Helvetica, Arial, Segoe UI and SF.
 */

// Advance widths in hundredths of an em for ASCII 32..126, three digits each.
const ASCII =
  '032040046084064095078027039039050084032036032034064064064064064064064064064064034034084084084053100068069070077063058077075029029066056086075079060079069063061073068099069061069039034039084050050061063055063062035063063028028058028097063061063063041052039063059082059059052064034064084'

const WIDE: Record<string, number> = { '·': 0.32, '–': 0.56, '—': 1, '…': 1, '×': 0.84, '−': 0.84, '≥': 0.84, '≤': 0.84, '’': 0.32, '‘': 0.32 }

/** Bold (600) text runs about a tenth wider. */
export const BOLD = 1.1

/** The ASCII advances read out of the table once, not a slice and a Number() per character measured. */
const ASCII_EM = Float64Array.from({ length: 95 }, (_, i) => Number(ASCII.slice(i * 3, i * 3 + 3)) / 100)

function advance(c: number): number {
  if (c >= 32 && c < 127) return ASCII_EM[c - 32] as number
  return WIDE[String.fromCodePoint(c)] ?? (c < 0x2e80 ? 0.7 : 1.05) // accented Latin, Greek…; CJK and the rest full width
}

/** Estimated width in px of `s` at `size` px (× BOLD for bold text). */
export function textWidth(s: string, size: number, weight = 1): number {
  let em = 0
  // By code point, as for…of walks a string (a pair of surrogates is one character, a lone one is itself).
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i) as number
    em += advance(c)
    i += c > 0xffff ? 2 : 1
  }
  return em * size * weight
}

/** `s` shortened with an ellipsis to fit `maxPx`. */
export function fitText(s: string, size: number, maxPx: number, weight = 1): string {
  if (textWidth(s, size, weight) <= maxPx) return s
  const chars = [...s]
  let lo = 0
  let hi = chars.length
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (textWidth(`${chars.slice(0, mid).join('')}…`, size, weight) <= maxPx) lo = mid
    else hi = mid - 1
  }
  return `${chars.slice(0, lo).join('').trimEnd()}…`
}

/**
 * Word-wraps `s` into lines no wider than `maxPx`; a word longer than a line
 * is cut with an ellipsis rather than left to run off the canvas.
 */
export function wrapText(s: string, size: number, maxPx: number, weight = 1): string[] {
  const lines: string[] = []
  let cur = ''
  for (const word of s.split(/\s+/).filter(w => w !== '')) {
    const next = cur === '' ? word : `${cur} ${word}`
    if (textWidth(next, size, weight) <= maxPx) cur = next
    else {
      if (cur !== '') lines.push(cur)
      cur = fitText(word, size, maxPx, weight)
    }
  }
  if (cur !== '') lines.push(cur)
  return lines
}
