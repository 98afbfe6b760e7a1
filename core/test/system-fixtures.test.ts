/**
 * Every real layout a system block may hold, one fixture per layout: the text
 * as the command prints it (`<name>.txt`) and the records it must give beside
 * it (`<name>.json`). A figure in an expected file may be written `=<n> <unit>`
 * (`=1234 MiB`, `=9.6 GB`), read here in the unit's own base, and a share as
 * `=<part>/<whole> %` (`=2686/3762 %`), the exact share those figures make.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { block, FIXTURES } from './helpers.js'

interface Expected {
  what: string
  sample?: Record<string, unknown>
  absent?: string[]
  problems?: Record<string, number>
  events?: Record<string, unknown>[]
}

const UNITS: Record<string, number> = {
  B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, pages16k: 16384, pages4k: 4096,
}

/** `=1234 MiB` → bytes; everything else as written, lists and objects walked. */
function figures(v: unknown): unknown {
  if (typeof v === 'string') {
    const share = /^=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?) %$/.exec(v)
    if (share) return (Number(share[1]) / Number(share[2])) * 100
    const m = /^=(\d+(?:\.\d+)?) ([A-Za-z0-9]+)$/.exec(v)
    if (!m) return v
    const unit = UNITS[m[2] as string]
    if (unit === undefined) throw new Error(`unknown unit in fixture: ${v}`)
    return Math.round(Number(m[1]) * unit)
  }
  if (Array.isArray(v)) return v.map(figures)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, figures(x)]))
  return v
}

const root = join(FIXTURES, 'system')
for (const source of readdirSync(root).sort()) {
  t.test(source, async t => {
    const names = readdirSync(join(root, source)).filter(f => f.endsWith('.txt')).sort()
    t.ok(names.length > 0, 'the folder has fixtures')
    for (const name of names) {
      const base = name.slice(0, -4)
      const text = readFileSync(join(root, source, name), 'utf8').replace(/\n$/, '')
      const want = figures(JSON.parse(readFileSync(join(root, source, `${base}.json`), 'utf8'))) as Expected
      t.test(`${base}: ${want.what}`, async t => {
        const { sample, events, problems } = block(text)
        for (const [key, value] of Object.entries(want.sample ?? {})) t.same((sample as Record<string, unknown>)[key], value, key)
        for (const key of want.absent ?? []) t.equal((sample as Record<string, unknown>)[key], undefined, `${key} absent`)
        const kinds = want.problems ?? {}
        for (const [kind, n] of Object.entries(kinds)) t.equal(problems.count(kind as never), n, `${n} ${kind}`)
        t.equal(problems.total, Object.values(kinds).reduce((a, b) => a + b, 0), `no other problems: ${problems.summary().join('; ')}`)
        t.equal(events.length, want.events?.length ?? 0, 'events')
        ;(want.events ?? []).forEach((e, i) => t.match(events[i], e, `event ${i}`))
      })
    }
  })
}
