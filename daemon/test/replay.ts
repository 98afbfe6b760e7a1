/**
 * A trace replayed through the daemon's own metric code: each process sample
 * and each system block of a trace folder is given to `Metrics` as the daemon
 * gives it at that tick (the runners named as the trace's `memtrace runner`
 * events name them, the block's OOM kills and markers, the server log's
 * evictions at their time), and after each second the series are read as a
 * scrape at that second would get them. The result is Prometheus input
 * series, one point a second: what a Prometheus scraping every second would
 * have stored from the daemon that wrote the trace.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Metrics } from '../metrics.js'
import { MetricFacts } from '../metric-facts.js'
import type { ProcInfo } from '../probe/proc-linux.js'
import { ProblemLog } from '../../core/parse/problems.js'
import { ServerLogParser } from '../../core/parse/server-log.js'
import { parseProc, parseSys } from '../../core/test/helpers.js'

export interface Replayed {
  /** The first second of the trace (ms): series point i is at startMs + i s. */
  startMs: number
  seconds: number
  /** Each series by its name and labels (`name{a="x",…}`, as promtool writes it), with a value or undefined (absent) at each second. */
  series: Map<string, (number | undefined)[]>
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** Replays the trace in `dir`; `extra` labels (instance, job) go on every series. */
export async function replay(dir: string, extra: Record<string, string>): Promise<Replayed> {
  const files = readdirSync(dir)
  const read = (re: RegExp) => {
    const f = files.find(n => re.test(n))
    return f === undefined ? undefined : readFileSync(join(dir, f), 'utf8')
  }
  const { rows } = parseProc(read(/^ollama-process-memtrace-.*\.tsv$/) ?? '')
  const { blocks } = parseSys(read(/^system-memtrace-.*\.log$/) ?? '')
  const serverLog = read(/^ollama-server-memtrace-.*\.log$/)
  const evictions: number[] = []
  if (serverLog !== undefined) {
    const parser = new ServerLogParser('server log', new ProblemLog())
    const events = serverLog.split('\n').flatMap((l, i) => parser.line(l, i + 1))
    for (const e of [...events, ...parser.end()]) if (e.kind === 'eviction' && e.ts !== undefined) evictions.push(Date.parse(e.ts))
  }
  // The runners' models as the daemon named them (it writes a `memtrace runner` event once it has).
  const models = new Map<number, string>()
  for (const b of blocks) for (const e of b.events) if (e.kind === 'runner' && e.pid !== undefined && e.model) models.set(e.pid, e.model)
  const procAt = new Map<number, typeof rows>()
  for (const r of rows) procAt.set(r.tsMs, [...(procAt.get(r.tsMs) ?? []), r])
  const sysAt = new Map(blocks.map(b => [b.tsMs, b]))
  const times = [...procAt.keys(), ...sysAt.keys()]
  const startMs = Math.min(...times)
  // The process interval, as the daemon had it: the usual gap between two process samples.
  const ticks = [...procAt.keys()].sort((a, b) => a - b)
  const gaps = ticks.slice(1).map((t, i) => t - (ticks[i] as number)).sort((a, b) => a - b)
  const intervalMs = gaps[Math.floor(gaps.length / 2)] ?? 1000
  const seconds = Math.round((Math.max(...times) - startMs) / 1000) + 1
  let nowMs = startMs
  const m = new Metrics(intervalMs, { version: 'replay', now: () => nowMs })
  const facts = new MetricFacts()
  const series = new Map<string, (number | undefined)[]>()
  let evicted = 0
  for (let i = 0; i < seconds; i++) {
    nowMs = startMs + i * 1000
    const procs = procAt.get(nowMs)
    if (procs) {
      m.processes(
        procs.map(r => {
          const p: ProcInfo = { pid: r.sample.pid, ppid: r.sample.ppid, comm: r.sample.comm, rssKb: r.sample.rssKb, vszKb: r.sample.vszKb, command: r.sample.command, startTicks: 0 }
          return facts.process(p, `${p.pid}:${p.command}`, models.get(p.pid))
        }),
        nowMs,
      )
    }
    while (evicted < evictions.length && (evictions[evicted] as number) <= nowMs) {
      m.evictions()
      evicted++
    }
    const b = sysAt.get(nowMs)
    if (b) {
      const servers = b.events.filter(e => e.kind === 'server').map(e => e as unknown as { pid: number; address: string })
      if (servers.length > 1) m.servers(servers.map(s => ({ pid: s.pid, address: s.address })))
      for (const e of b.events) if (e.kind === 'marker' && e.text !== undefined) m.marker(Date.parse(e.ts), e.text)
      // A trace that listed the models with `ollama ps` (the Windows sample) had a server that answered: a daemon would have
      // had the same models from /api/ps.
      const sample = b.sample.models === undefined && b.sample.cliModels !== undefined ? { ...b.sample, models: b.sample.cliModels } : b.sample
      m.system(sample, sample.models !== undefined, nowMs, b.events, serverLog !== undefined)
    }
    // The scrape at this second: every series as the exposition has it (the histogram left out: no rule reads it).
    for (const metric of await m.registry.getMetricsAsJSON()) {
      if (String(metric.type) === 'histogram') continue
      for (const v of metric.values) {
        const labels = { ...v.labels, ...extra } as Record<string, string | number>
        const key = `${metric.name}{${Object.entries(labels).map(([k, x]) => `${k}="${label(String(x))}"`).join(',')}}`
        const points = series.get(key) ?? new Array<number | undefined>(seconds).fill(undefined)
        points[i] = v.value
        series.set(key, points)
      }
    }
  }
  return { startMs, seconds, series }
}

/** The series as promtool's input: a value a second, `stale` where a series left the scrape (as Prometheus marks it), `_` while it is away. */
export function inputSeries(r: Replayed): { series: string; values: string }[] {
  return [...r.series].map(([series, points]) => ({
    series,
    values: points.map((v, i) => (v !== undefined ? String(v) : i > 0 && points[i - 1] !== undefined ? 'stale' : '_')).join(' '),
  }))
}
