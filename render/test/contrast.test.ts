import t from 'tap'
import { THEMES } from '../chart/style.js'
import { colourDistance, contrast, isRed } from './contrast.js'
import { blend } from './png.js'

// WCAG non-text contrast: every mark a reader must see needs 3:1 against the
// panel it is drawn on; text needs 4.5:1 against what it sits on.
for (const th of Object.values(THEMES)) {
  t.test(`${th.name} theme: series, bands and runners stand out from the panel`, async t => {
    const marks: [string, string][] = [
      ...th.models.map((c, i) => [`model colour ${i + 1}`, c] as [string, string]),
      ...Object.entries(th.series).map(([k, c]) => [`series ${k}`, c] as [string, string]),
      ['low-free band edge and threshold', th.lowFree],
      ['runner overlap band edge', th.overlap],
      ['server', th.server],
      ['discovery', th.discovery],
      ['other processes', th.other],
      ['markers', th.marker],
      ['finding badges', th.badge],
    ]
    for (const [name, c] of marks) t.ok(contrast(c, th.panel) >= 3, `${name} ${c}: ${contrast(c, th.panel).toFixed(2)}:1 on ${th.panel}`)
    // The band's fill is translucent; it must still differ from the panel at a glance.
    const fill = blend(th.lowFree, th.lowFreeOpacity, th.panel)
    t.ok(contrast(fill, th.panel) >= 1.25, `low-free fill ${fill} shows on the panel: ${contrast(fill, th.panel).toFixed(2)}:1`)
  })

  t.test(`${th.name} theme: text is legible`, async t => {
    for (const [name, c] of Object.entries({ title: th.title, heading: th.heading, text: th.text, muted: th.muted })) {
      for (const bg of [th.background, th.panel]) t.ok(contrast(c, bg) >= 4.5, `${name} ${c} on ${bg}: ${contrast(c, bg).toFixed(2)}:1`)
    }
    // Line-end labels are written in their model's colour on the panel.
    for (const c of th.models) t.ok(contrast(c, th.panel) >= 4.5, `label in ${c}: ${contrast(c, th.panel).toFixed(2)}:1`)
    t.ok(contrast(th.badgeText, th.badge) >= 4.5, 'the number on a badge')
  })

  t.test(`${th.name} theme: red means low free memory and nothing else`, async t => {
    t.ok(isRed(th.lowFree), 'the low-free colour is a red')
    for (const c of th.models) t.notOk(isRed(c), `model colour ${c} is not red`)
    for (const [k, c] of Object.entries(th.series)) t.notOk(isRed(c), `series ${k} ${c} is not red`)
    t.equal(new Set(th.models).size, th.models.length, 'no model colour repeats')
  })

  // A model's line and a system series must not be taken for each other: the
  // second model once had exactly the compressor's colour, the first the free %'s.
  t.test(`${th.name} theme: no model shares a colour with a system series`, async t => {
    for (const [i, m] of th.models.entries()) {
      for (const [k, c] of Object.entries(th.series)) {
        const d = colourDistance(m, c)
        t.ok(d >= 12, `model ${i + 1} ${m} and series ${k} ${c} differ: ΔE ${d.toFixed(0)}`)
      }
    }
  })
}
