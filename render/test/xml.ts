import { JSDOM } from 'jsdom'

const { window } = new JSDOM('')

/** Parses SVG text as strict XML; throws with the parser's message when it is not well-formed. */
export function parseSvg(svg: string): Document {
  const doc = new window.DOMParser().parseFromString(svg, 'image/svg+xml')
  const err = doc.getElementsByTagName('parsererror')[0]
  if (err) throw new Error(`not well-formed XML: ${err.textContent}`)
  return doc
}

/** Every element, attribute and text in the SVG that could load or run something. */
export function unsafeParts(doc: Document): string[] {
  const out: string[] = []
  for (const el of Array.from(doc.getElementsByTagName('*'))) {
    const name = el.localName.toLowerCase()
    if (['script', 'foreignobject', 'image', 'iframe', 'use', 'style', 'a'].includes(name)) out.push(`<${name}>`)
    for (const a of Array.from(el.attributes)) {
      if (/^on/i.test(a.name) || /href$/i.test(a.name) || /url\(/i.test(a.value)) out.push(`${name}@${a.name}`)
    }
  }
  return out
}
