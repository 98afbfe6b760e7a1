/**
 * The alert rules on the samples' stories: each sample's trace is replayed
 * through the daemon's own metric code (replay.ts: the series a Prometheus
 * scraping every second would have stored from the daemon that wrote it),
 * and Debian's promtool evaluates docs/prometheus/alerts.yml on those series
 * every 5 s, with Prometheus's own rule engine, asserting at every step of
 * the trace which alerts fire, with which labels.
 *
 * Why `promtool test rules` with generated input series, not backfilled
 * blocks and a Prometheus server: a server evaluates rules only at the wall
 * clock's now, never over a backfilled past (and `promtool tsdb
 * create-blocks-from rules` backfills recording rules only), so the firing
 * of an alert at a trace's time can only be asked of the unit-test runner,
 * which runs the same PromQL engine and the same alerting-rule code
 * (`for`, pending, firing) over series laid on its own clock. Stale markers
 * stand where a series left the scrape, as Prometheus writes them.
 *
 * The rules' annotations are taken off here (alerts.test.yml tests their
 * text): what is asserted is the expressions, the `for`s and the labels.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { ROOT } from './helpers.js'
import { inputSeries, replay } from './replay.js'

const RULES = join(ROOT, 'docs', 'prometheus', 'alerts.yml')
const STEP_S = 5
const INSTANCE = { instance: 'sample:9464', job: 'memtrace' }

interface Fires {
  alert: string
  labels: Record<string, string>
  /** First and last evaluation (UTC) at which it fires. */
  from: string
  to: string
}

/** What each sample's story fires, and when; every other alert stays quiet at every step. */
const STORIES: Record<string, Fires[]> = {
  // qwen2.5-coder:32b's runner holds ever more than Ollama's claim (3 min 35 s of drift, from 09:03:35 until it is unloaded at 09:07:10);
  // llama3.3:70b then loads into a container too small for it: its memory climbs to the limit, the kernel stalls, and
  // the cgroup's OOM killer kills the runner at 09:09:00.
  'linux-nvidia-container': [
    { alert: 'MemtraceAccountingDrift', labels: { model: 'qwen2.5-coder:32b', memory: 'system', severity: 'info' }, from: '09:05:45', to: '09:07:10' },
    { alert: 'MemtraceContainerFillingUp', labels: { severity: 'warning' }, from: '09:08:30', to: '09:09:00' },
    { alert: 'MemtraceMemoryPressure', labels: { scope: 'system', kind: 'full', severity: 'warning' }, from: '09:09:00', to: '09:09:50' },
    { alert: 'MemtraceMemoryPressure', labels: { scope: 'cgroup', kind: 'full', severity: 'warning' }, from: '09:09:00', to: '09:09:55' },
    { alert: 'MemtraceOomKill', labels: { source: 'cgroup', severity: 'critical' }, from: '09:09:05', to: '09:11:55' },
  ],
  // A model switch on a Mac whose old runner lingers for over a minute beside the new one, then free memory stays low.
  'mac-model-switch': [
    { alert: 'MemtraceRunnerOverlap', labels: { severity: 'warning' }, from: '14:10:40', to: '14:10:55' },
    { alert: 'MemtraceLowFreeMemory', labels: { severity: 'warning' }, from: '14:11:00', to: '14:17:55' },
  ],
  // Free memory dips under 30 % seven times, each for less than the rule's minute: no alert.
  'num-parallel-sweep': [],
  // Windows at its commit limit for 35 s as gemma3:27b loads beside llama3.1:8b (19:18:35 to 19:19:10): the alert fires
  // once the rule's 30 s have passed. Available memory is under 30 % for 5 s only, less than the low-memory rule's minute.
  'windows-model-switch': [{ alert: 'MemtraceCommitNearLimit', labels: { severity: 'warning' }, from: '19:19:05', to: '19:19:10' }],
  'seed-loops': [],
  'seed-loop-linux': [],
}

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

/** The rules as alerts.yml has them, less their annotations; `edit` changes the file's text first. */
function rules(edit: (text: string) => string = x => x): { text: string; names: string[] } {
  const doc = parse(edit(readFileSync(RULES, 'utf8'))) as { groups: { rules: { alert?: string; annotations?: unknown }[] }[] }
  for (const g of doc.groups) for (const r of g.rules) delete r.annotations
  return { text: stringify(doc), names: doc.groups.flatMap(g => g.rules.flatMap(r => (r.alert ? [r.alert] : []))) }
}

/** promtool's test of `sample` replayed under `ruleText`, expecting `story`. */
async function promtoolOn(dir: string, sample: string, story: Fires[], r: { text: string; names: string[] }) {
  const replayed = await replay(join(ROOT, 'samples', sample), INSTANCE)
  const day = new Date(replayed.startMs).toISOString().slice(0, 10)
  const at = (hms: string) => (Date.parse(`${day}T${hms}Z`) - replayed.startMs) / 1000
  const tests = []
  for (let s = 0; s < replayed.seconds; s += STEP_S) {
    for (const alertname of r.names) {
      const exp = story.filter(f => f.alert === alertname && at(f.from) <= s && s <= at(f.to)).map(f => ({ exp_labels: { ...INSTANCE, ...f.labels } }))
      tests.push({ eval_time: `${s}s`, alertname, exp_alerts: exp })
    }
  }
  // The daemon answered every scrape while it traced.
  const up = { series: `up{instance="${INSTANCE.instance}",job="${INSTANCE.job}"}`, values: `1x${replayed.seconds - 1}` }
  writeFileSync(join(dir, 'alerts.yml'), r.text)
  writeFileSync(join(dir, 'replay.test.yml'), stringify({ rule_files: ['alerts.yml'], evaluation_interval: `${STEP_S}s`, tests: [{ interval: '1s', input_series: [up, ...inputSeries(replayed)], alert_rule_test: tests }] }, { lineWidth: 0 }))
  return spawnSync('promtool', ['test', 'rules', 'replay.test.yml'], { cwd: dir, encoding: 'utf8', maxBuffer: 256 << 20 })
}

t.test('each sample fires the alerts of its story, at their time, and no other', async t => {
  if (!have('promtool')) {
    t.fail("promtool is not installed: `make prometheus` installs Debian's prometheus, which has it, and `make test` runs that first")
    return
  }
  const r = rules()
  for (const [sample, story] of Object.entries(STORIES)) {
    const out = await promtoolOn(t.testdir({}), sample, story, r)
    t.equal(out.status, 0, `${sample}: ${(out.stdout + out.stderr).slice(0, 4000)}`)
  }
})

t.test("the replay would catch a rule that misses its story: the drift rule's old 5 minutes never fire on 3 min 35 s of drift", async t => {
  if (!have('promtool')) {
    t.fail('promtool is not installed (make prometheus)')
    return
  }
  const old = rules(text => text.replace(/(alert: MemtraceAccountingDrift[\s\S]*?for: )2m/, '$15m'))
  const out = await promtoolOn(t.testdir({}), 'linux-nvidia-container', STORIES['linux-nvidia-container'] as Fires[], old)
  t.not(out.status, 0, 'promtool test rules fails')
  t.match(out.stdout + out.stderr, /alertname: MemtraceAccountingDrift, time: 5m45s,\s*exp:\[\s*0:/, 'where the drift alert was expected, none came')
})
