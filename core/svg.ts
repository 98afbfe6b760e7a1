/** Building SVG text safely: every piece of trace text goes through these. */
import { printable } from './safe-text.js'

// Characters XML 1.0 forbids: C0 controls other than tab/newline/CR, lone
// surrogates, U+FFFE and U+FFFF.
const INVALID_XML_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Printable ASCII but the five characters XML escapes: what every rule below leaves as it is. */
const PLAIN_RE = /^[ !#-%(-;=?-~]*$/

/** Text made safe for XML content and attribute values. */
export function esc(text: string): string {
  // Path data, numbers, colours and most labels need nothing done: one test instead of three replacements.
  if (PLAIN_RE.test(text)) return text
  return printable(text.replace(INVALID_XML_RE, '\uFFFD')).replace(/[&<>"']/g, c => ESCAPES[c] as string)
}

export type Attrs = Record<string, string | number | undefined>

/** Attributes as el() writes them: ` name="value"` each, escaped, undefined ones left out. */
export function attrs(a: Attrs): string {
  let out = ''
  // for…in visits an object literal's keys in the order Object.entries does, without making pairs.
  for (const k in a) {
    const v = a[k]
    if (v === undefined) continue
    out += ` ${k}="${typeof v === 'number' ? fmt(v) : esc(v)}"`
  }
  return out
}

/*
 * Elements are joined, not concatenated: a joined string is one flat piece of
 * text, while `+` leaves a tree of pieces behind it. A chart of thousands of
 * processes keeps thousands of elements until the end, and as trees they
 * took several times the memory of their text.
 */

/** An element with escaped attributes; `children` are already SVG text. */
export function el(name: string, a: Attrs, ...children: string[]): string {
  return children.length === 0 ? ['<', name, attrs(a), '/>'].join('') : ['<', name, attrs(a), '>', ...children, '</', name, '>'].join('')
}

/** A text element whose content is escaped. */
export function text(a: Attrs, content: string): string {
  return ['<text', attrs(a), '>', esc(content), '</text>'].join('')
}

/** Numbers in a fixed, short form so output is byte-stable. */
export function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 10) / 10)
}

/** Shortens text for a label, by characters not bytes. */
export function clip(s: string, max: number): string {
  const chars = [...s]
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : s
}

/**
 * A text with a halo in the colour beneath it, so a line or band crossing
 * it never strikes through the letters.
 */
export function haloText(a: Attrs, content: string, halo: string): string {
  return text({ ...a, stroke: halo, 'stroke-width': 3, 'stroke-linejoin': 'round', 'paint-order': 'stroke' }, content)
}
