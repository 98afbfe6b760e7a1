/**
 * The launchd agents in docs/launchd/: what `plutil -lint` would check (a
 * well-formed property list of the allowed elements, each key with one
 * value), and the keys memtrace's daemon needs on a Mac.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { JSDOM } from 'jsdom'
import { ROOT } from './helpers.js'

const DIR = join(ROOT, 'docs', 'launchd')
const VALUES = new Set(['string', 'integer', 'real', 'true', 'false', 'date', 'data', 'array', 'dict'])

/** A property list as plutil reads it, or the first thing wrong with it. */
function plist(text: string): Record<string, unknown> {
  const doc = new new JSDOM('').window.DOMParser().parseFromString(text, 'application/xml')
  const err = doc.getElementsByTagName('parsererror')[0]
  if (err) throw new Error(`not well-formed: ${err.textContent}`)
  const root = doc.documentElement
  if (root.tagName !== 'plist' || root.getAttribute('version') !== '1.0') throw new Error('the root is not <plist version="1.0">')
  const kids = Array.from(root.children)
  if (kids.length !== 1 || kids[0]?.tagName !== 'dict') throw new Error('a plist holds one <dict>')
  return value(kids[0]) as Record<string, unknown>
}

function value(e: Element): unknown {
  if (!VALUES.has(e.tagName)) throw new Error(`<${e.tagName}> is not a plist value`)
  switch (e.tagName) {
    case 'string':
      if (e.children.length) throw new Error('a <string> holds text only')
      return e.textContent
    case 'integer':
      if (!/^-?\d+$/.test(e.textContent?.trim() ?? '')) throw new Error(`<integer>${e.textContent}</integer>`)
      return Number(e.textContent)
    case 'true':
      return true
    case 'false':
      return false
    case 'array':
      return Array.from(e.children).map(value)
    case 'dict': {
      const out: Record<string, unknown> = {}
      const kids = Array.from(e.children)
      for (let i = 0; i < kids.length; i += 2) {
        const k = kids[i] as Element
        const v = kids[i + 1]
        if (k.tagName !== 'key') throw new Error(`<${k.tagName}> where a <key> belongs`)
        if (!v || v.tagName === 'key') throw new Error(`<key>${k.textContent}</key> has no value`)
        if (k.textContent === null || k.textContent in out) throw new Error(`<key>${k.textContent}</key> twice`)
        out[k.textContent] = value(v)
      }
      return out
    }
    default:
      return e.textContent
  }
}

for (const [file, node] of [
  ['dev.memtrace.plist', '/opt/homebrew/bin/node'],
  ['dev.memtrace.nvm.plist', '/Users/you/.nvm/versions/node/v20.19.0/bin/node'],
] as const) {
  t.test(`${file}: a valid property list with what the daemon needs`, async t => {
    const p = plist(readFileSync(join(DIR, file), 'utf8'))
    t.equal(p.Label, 'dev.memtrace')
    const args = p.ProgramArguments as string[]
    t.equal(args[0], node, 'node by its absolute path: launchd has no shell PATH, and a bin script starts with #!/usr/bin/env node')
    t.match(args[1], /^\/.*\/memtrace\/dist\/bin\/memtrace\.js$/)
    t.same(args.slice(2, 4), ['start', '--foreground'], 'in the foreground: launchd keeps the process, not a forked one')
    t.same(p.KeepAlive, { SuccessfulExit: false }, 'restarted after a failure, not after memtrace stop')
    t.equal(p.ProcessType, 'Interactive', 'not throttled as a background agent')
    t.equal(p.RunAtLoad, true)
    t.match(p.StandardErrorPath, /^\/Users\/you\/ollama-memtrace\//)
    t.match((p.EnvironmentVariables as Record<string, string>).PATH, /\/usr\/local\/bin/, 'ollama ps is found')
  })
}

t.test('the checker refuses what plutil refuses', async t => {
  const wrap = (body: string) => `<?xml version="1.0"?><plist version="1.0"><dict>${body}</dict></plist>`
  t.throws(() => plist(wrap('<key>A</key>')), /has no value/)
  t.throws(() => plist(wrap('<key>A</key><string>x</string><key>A</key><true/>')), /twice/)
  t.throws(() => plist(wrap('<key>A</key><bool>1</bool>')), /not a plist value/)
  t.throws(() => plist(wrap('<key>A</key><string>x')), /not well-formed/)
  t.throws(() => plist('<plist version="1.0"><array/></plist>'), /one <dict>/)
})

t.test('docs/daemon.md shows the agent as the file has it', async t => {
  const file = readFileSync(join(DIR, 'dev.memtrace.plist'), 'utf8')
  const body = file.slice(file.indexOf('<plist'))
  t.ok(readFileSync(join(ROOT, 'docs', 'daemon.md'), 'utf8').includes(body.trim()), 'the same text')
})
