/**
 * The fleet page: docs/grafana/memtrace-fleet.json, docs/prometheus/
 * recording.yml and the Prometheus example with file-based discovery. The
 * dashboard's structure (ids, data sources, targets, grid positions that do
 * not overlap, no repeated rows, the hosts' table first, links that drill
 * into one host), every query parsed by promtool, and every metric name in
 * every query found in a real scrape of the daemon or recorded by
 * recording.yml; the rules checked and tested by Debian's promtool.
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deadUrl, freePort, memtrace, ROOT, sleep } from './helpers.js'

const PROM_DOCS = join(ROOT, 'docs', 'prometheus')
const promtool = (cwd: string, ...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', cwd })
const haveProm = () => spawnSync('sh', ['-c', 'command -v promtool']).status === 0

interface Target { refId: string; expr: string; datasource?: unknown }
interface Panel { id: number; type: string; title: string; datasource?: { uid?: string }; targets?: Target[]; gridPos: { x: number; y: number; w: number; h: number }; repeat?: string; panels?: Panel[]; fieldConfig?: unknown }
interface Dashboard { uid: string; panels: Panel[]; templating: { list: { name: string; type: string; query?: { query: string } | string; multi?: boolean; includeAll?: boolean }[] }; annotations: { list: { expr?: string }[] } }

const load = (name: string) => JSON.parse(readFileSync(join(ROOT, 'docs', 'grafana', name), 'utf8')) as Dashboard
const dashboard = load('memtrace-fleet.json')
/** The per-host dashboard, one host at a time too. */
const perHost = load('memtrace.json')
const panelsOf = (d: Dashboard) => d.panels.flatMap(p => [p, ...(p.panels ?? [])])
const panels = panelsOf(dashboard)
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan'])

/** Every query the dashboard sends: panels' targets, the variables' and the annotations'. */
function queries(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = []
  for (const p of panelsOf(d)) for (const x of p.targets ?? []) out.push({ where: `${p.title} ${x.refId}`, expr: x.expr })
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '')
    // label_values(SELECTOR, label): the selector is PromQL.
    out.push({ where: `variable ${v.name}`, expr: /^label_values\((.*),\s*\w+\)$/.exec(q)?.[1] ?? q })
  }
  for (const a of d.annotations.list) if (a.expr) out.push({ where: 'annotation', expr: a.expr })
  return out
}

/** Grafana's variables as Grafana fills them, for a query promtool can parse. */
const filled = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', 'gpu-host-1')

/** The metric names a PromQL expression reads: what is left once strings, matchers, ranges, groupings, functions and keywords are taken out. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  // A whole word (not the tail of 5m), not followed by "(" (a function), not a keyword.
  const names = [...bare.matchAll(/(?<![\w:.])[A-Za-z_:][\w:]*/g)].filter(m => bare.slice((m.index ?? 0) + m[0].length).trimStart()[0] !== '(').map(m => m[0])
  return [...new Set(names.filter(n => !PROMQL_WORDS.has(n.toLowerCase())))]
}

/** The names a real daemon exposes: every `# TYPE` line, with a histogram's series. */
async function scrapedNames(t: Test): Promise<Set<string>> {
  const dir = t.testdir({})
  const port = await freePort()
  const trace = join(dir, 'trace')
  const started = memtrace(['start', '--dir', trace, '--metrics', `127.0.0.1:${port}`, '--ollama-url', await deadUrl()])
  if (started.code !== 0) throw new Error(started.stderr)
  try {
    await sleep(1500)
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const names = new Set<string>()
    for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
      const [name, type] = [m[1] as string, m[2] as string]
      names.add(name)
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`)
    }
    return names
  } finally {
    memtrace(['stop', '--dir', trace])
  }
}

const recorded = () => [...readFileSync(join(PROM_DOCS, 'recording.yml'), 'utf8').matchAll(/^\s*- record: (\S+)$/gm)].map(m => m[1] as string)

t.test('the name finder: names kept, functions, labels, ranges, groupings and keywords left out', async t => {
  t.same(metricNames('sum by (instance, model) (rate(memtrace_x_total{job="memtrace", role=~"a|b"}[1m])) or max by (instance) (up{job="memtrace"} == 1) * 0').sort(), ['memtrace_x_total', 'up'])
  t.same(metricNames('count by (instance) (ALERTS{alertstate="firing"} and on (instance) up{job="memtrace"})').sort(), ['ALERTS', 'up'])
  t.same(metricNames('instance:memtrace_runners:count{instance="$instance"}'), ['instance:memtrace_runners:count'])
  t.same(metricNames('increase(memtrace_oom_kills_total{instance="a"}[$__rate_interval]) offset 5m'), ['memtrace_oom_kills_total'])
  t.same(metricNames('memtrace_a - ignoring(kind) memtrace_b').sort(), ['memtrace_a', 'memtrace_b'])
})

t.test('the dashboard: ids, data sources, targets, grid positions, the hosts first, no repeated rows, links into one host', async t => {
  const ids = panels.map(p => p.id)
  t.same(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'unique panel ids')
  for (const p of panels) {
    t.notOk(p.repeat, `${p.title}: not repeated per host`)
    const g = p.gridPos
    t.ok(g && g.w > 0 && g.h > 0 && g.x >= 0 && g.y >= 0 && g.x + g.w <= 24, `${p.title}: a grid position within 24 columns`)
    if (p.type === 'row') continue
    t.equal(p.datasource?.uid, '${datasource}', `${p.title}: the chosen Prometheus`)
    t.ok((p.targets ?? []).length > 0, `${p.title}: has targets`)
    const refs = (p.targets ?? []).map(x => x.refId)
    t.equal(new Set(refs).size, refs.length, `${p.title}: unique refIds`)
    for (const x of p.targets ?? []) t.ok(x.expr.trim().length > 0 && x.datasource !== undefined, `${p.title} ${x.refId}: a query and its data source`)
  }
  const overlaps: string[] = []
  for (const [i, a] of panels.entries()) {
    for (const b of panels.slice(i + 1)) {
      const [g, h] = [a.gridPos, b.gridPos]
      if (g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h) overlaps.push(`${a.title} / ${b.title}`)
    }
  }
  t.same(overlaps, [], 'no two panels overlap')
  const rows = panels.filter(p => p.type === 'row').sort((a, b) => a.gridPos.y - b.gridPos.y)
  t.equal(rows[0]?.gridPos.y, 0, 'the page starts with a row')
  const first = panels.filter(p => p.type !== 'row' && p.gridPos.y > (rows[0]?.gridPos.y ?? 0) && p.gridPos.y < (rows[1]?.gridPos.y ?? Infinity))
  const table = first.find(p => p.type === 'table')
  t.ok(table, 'the first row holds the hosts table')
  const exprs = (table?.targets ?? []).map(x => x.expr).join('\n')
  for (const figure of ['free_ratio', 'pressure', 'runners', 'alerts_firing']) t.match(exprs, figure, `the table has the hosts' ${figure}`)
  for (const x of table?.targets ?? []) t.notMatch(x.expr, /\$instance/, `${x.refId}: every host, not the one picked`)
  t.ok(first.some(p => p.type === 'state-timeline'), 'and a state timeline per host')
  const instance = dashboard.templating.list.find(v => v.name === 'instance')
  t.ok(instance && !instance.multi && !instance.includeAll, 'one host at a time in the per-host panels: 20 hosts do not make 80 panels')
  const later = panels.filter(p => p.type !== 'row' && p.gridPos.y > (rows[1]?.gridPos.y ?? Infinity))
  t.ok(later.length >= 4 && later.every(p => (p.targets ?? []).every(x => x.expr.includes('instance="$instance"'))), "the second row is one host's panels")
  const links = JSON.stringify(table?.fieldConfig)
  t.match(links, `/d/${dashboard.uid}/`, 'a host in the table links to this page…')
  t.match(links, 'var-instance=${__value.raw}', '…with that host picked')
})

t.test('the per-host dashboard (memtrace.json): one host at a time, no row or panel repeated per host', async t => {
  const all = panelsOf(perHost)
  t.same(all.filter(p => p.repeat).map(p => p.title), [], 'nothing repeated: twenty hosts do not make eighty panels')
  const instance = perHost.templating.list.find(v => v.name === 'instance')
  t.ok(instance && !instance.multi && !instance.includeAll, 'one host picked')
  const ids = all.map(p => p.id)
  t.equal(new Set(ids).size, ids.length, 'unique ids')
})

t.test("every query parses, and every metric name is in a real scrape of the daemon or recorded by recording.yml", async t => {
  if (!haveProm()) {
    t.fail("promtool is not installed: `make prometheus` installs Debian's prometheus, which has it, and `make test` runs that first")
    return
  }
  const scraped = await scrapedNames(t)
  t.ok(scraped.has('memtrace_system_memory_free_ratio') && scraped.has('memtrace_build_info'), `the daemon's names (${scraped.size})`)
  const rules = new Set(recorded())
  t.ok(rules.size >= 10, `${rules.size} recorded series`)
  const all = [...queries(dashboard), ...queries(perHost).map(q => ({ ...q, where: `memtrace.json: ${q.where}` }))]
  const unknown = all.flatMap(q => metricNames(q.expr).filter(n => !scraped.has(n) && !rules.has(n)).map(n => `${q.where}: ${n}`))
  t.same(unknown, [], 'no name the daemon does not export and no rule records')
  t.ok(all.filter(q => metricNames(q.expr).some(n => rules.has(n))).length >= 8, 'the heavy queries read recorded series')
  // The recording rules read the daemon's names, and Prometheus's own up and ALERTS.
  const ruleText = readFileSync(join(PROM_DOCS, 'recording.yml'), 'utf8')
  const ruleExprs = [...ruleText.matchAll(/^\s*expr: (?:>\n((?:\s{10,}.*\n)+)|(.*)$)/gm)].map(m => (m[1] ?? m[2] ?? '').trim())
  t.equal(ruleExprs.length, rules.size)
  t.same(ruleExprs.flatMap(e => metricNames(e).filter(n => !scraped.has(n) && !rules.has(n) && n !== 'up' && n !== 'ALERTS')), [], "the rules' names are the daemon's")
  // promtool parses each query as a recording rule, with Grafana's variables filled in.
  const dir = t.testdir({})
  writeFileSync(join(dir, 'queries.yml'), `groups:\n  - name: dashboard\n    rules:\n${all.map((q, i) => `      - record: q${i}\n        expr: ${JSON.stringify(filled(q.expr))}\n`).join('')}`)
  const parsed = promtool(dir, 'check', 'rules', 'queries.yml')
  t.equal(parsed.status, 0, `promtool parses every query: ${parsed.stdout}${parsed.stderr}`)
  t.match(parsed.stdout, `SUCCESS: ${all.length} rules found`)
})

t.test('the Prometheus example: file-based discovery, instance relabelled, the rules loaded; the recording rules checked and tested', async t => {
  if (!haveProm()) {
    t.fail('promtool is not installed (make prometheus)')
    return
  }
  const config = promtool(PROM_DOCS, 'check', 'config', 'prometheus.yml')
  t.equal(config.status, 0, config.stdout + config.stderr)
  t.match(config.stdout, /SUCCESS: 2 rule files found/)
  t.notMatch(config.stdout + config.stderr, /WARNING/, 'the targets file is where the config says')
  const text = readFileSync(join(PROM_DOCS, 'prometheus.yml'), 'utf8')
  t.match(text, /file_sd_configs:\n\s+- files: \['targets.json'\]/)
  const targets = JSON.parse(readFileSync(join(PROM_DOCS, 'targets.json'), 'utf8')) as { targets: string[] }[]
  t.ok(targets.flatMap(g => g.targets).every(x => /^[\w.-]+:\d+$/.test(x)), 'targets.json lists host:port')
  // The relabelling as Prometheus applies it: RE2, anchored at both ends, $1 for the host.
  const regex = /regex: '(.+)'/.exec(text)?.[1] as string
  const relabel = (address: string) => new RegExp(`^(?:${regex})$`).exec(address)?.[1] ?? address
  t.same(['gpu-host-1:9464', '[fd00::7]:9464', 'mac-studio'].map(relabel), ['gpu-host-1', '[fd00::7]', 'mac-studio'], 'instance is the host without the port')
  const rules = promtool(PROM_DOCS, 'check', 'rules', 'recording.yml')
  t.equal(rules.status, 0, rules.stdout + rules.stderr)
  const test = promtool(PROM_DOCS, 'test', 'rules', 'recording.test.yml')
  t.equal(test.status, 0, test.stdout + test.stderr)
  t.match(test.stdout, /SUCCESS/)
})
