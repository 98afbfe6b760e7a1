/** `memtrace render`'s arguments: its help, its options, and what is refused before anything is read. */
import { realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { UsageError } from '../core/errors.js'
import { checkZone, zoneOffsetMs } from './chart/time-axis.js'
import { pngBeside } from './outputs.js'
import type { PrometheusSource } from './prometheus.js'
import { newestInDir } from './trace-pair.js'

export const RENDER_HELP = `Usage:
  memtrace render <process.tsv> <system.log> <out.svg|out.png> [options]
  memtrace render --dir DIR [-o out.svg] [options]
  memtrace render --prometheus URL --instance HOST:PORT --from T1 --to T2 -o out.svg [options]

Draws the two traces as one self-contained two-panel SVG: RSS of each Ollama
process on top, system memory below, red bands where free memory was low.

Options:
  --dir DIR          use the newest traces in DIR (as written by memtrace start)
  --prometheus URL   draw from what Prometheus scraped of a daemon's --metrics:
    --instance I     the target's instance label (e.g. gpu-host-3:9464)
    --from T1        start and end: ISO 8601 (2026-11-23T02:00:00+01:00; without
    --to T2          a zone, in --tz), unix seconds, now, or now-2h / now-30m
    --step D         seconds between points (default: the target's scrape interval)
  -o, --out FILE     output file (with --dir; default DIR/memtrace-<stamp>.svg)
  --low-free PCT     free-memory threshold for the red bands (default 30)
  --tz ZONE          time zone of the labels, e.g. Europe/Berlin or UTC
                     (default: this machine's zone, named on the chart)
  --theme NAME       light (default) or dark
  --width PX         chart width (default 900: a GitHub issue's column, so 11 px
                     text shows at 11 px; a wider chart is shrunk there)
  --height PX        chart height (default 800; grows to fit long legends)
  --scale N          pixels per SVG unit in a PNG (default 2, so text stays
                     legible when a tracker shrinks the picture; 1 to 4)
  --watch            render again whenever the traces grow (a live run in a browser tab)
  --json             print the findings, then each runner's memory (Ollama's prediction,
                     the allocation, RSS), as JSON lines (memtrace schema finding,
                     memtrace schema runner-memory)
  --report FILE      also write a Markdown report: findings, runners, host, command,
                     and the server's version, settings and memory lines
  --server-log FILE  Ollama's own log (server.log, journalctl -u ollama, docker logs,
                     or a paste): its evictions, failed loads, kills and predictions
                     in the findings, on the chart and in the report (with --dir:
                     the daemon's ollama-server-memtrace-<stamp>.log, when it kept one)
  --plan M[:CTX:NP]  draw what memtrace plan predicts a runner of model M holds
                     (context CTX, NP slots; default 4096 and 1) as a dashed level
  --pid PID[,PID…]   draw only these processes and their descendants (a server's
                     runners), not every Ollama process the trace holds
  -q, --quiet        print nothing but errors
  -h, --help         this text

Damaged lines are skipped and counted on stderr; the exit status is 0 when
anything was drawn, 1 for bad usage, 2 when an input cannot be used.`


export interface RenderArgs {
  procPath: string
  sysPath: string
  outPath: string
  lowFreePct: number
  zone: string
  width: number
  height: number
  /** PNG pixels per SVG unit (default 2). */
  scale?: number
  quiet: boolean
  json: boolean
  reportPath?: string
  /** The server's log: `--server-log FILE`, or the daemon's third file with `--dir`. */
  serverLogPath?: string
  /** The arguments as given, for the report's command line. */
  argv?: string[]
  theme?: 'light' | 'dark'
  watch?: boolean
  /** `--plan MODEL[:CTX:NP]`: the level `memtrace plan` predicts for a runner. */
  plan?: string
  /** `--prometheus URL --instance I --from --to`: the traces come from Prometheus. */
  prometheus?: PrometheusSource
  /** `--pid`: only these processes and their descendants. */
  pids?: number[]
}

/** argv (after `render`) → arguments, or UsageError. */
export function parseRenderArgs(argv: string[]): RenderArgs | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      out: { type: 'string', short: 'o' },
      'low-free': { type: 'string', default: '30' },
      tz: { type: 'string' },
      width: { type: 'string', default: '900' },
      height: { type: 'string', default: '800' },
      scale: { type: 'string', default: '2' },
      theme: { type: 'string', default: 'light' },
      quiet: { type: 'boolean', short: 'q', default: false },
      json: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      report: { type: 'string' },
      'server-log': { type: 'string' },
      plan: { type: 'string' },
      pid: { type: 'string' },
      prometheus: { type: 'string' },
      instance: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      step: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'
  let procPath: string
  let sysPath: string
  let outPath: string
  const zoneAsked = values.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC'
  try {
    checkZone(zoneAsked)
  } catch {
    throw new UsageError(`unknown time zone "${zoneAsked}" (use an IANA name such as Europe/Berlin, or UTC)`)
  }
  let prometheus: PrometheusSource | undefined
  let serverLogPath = values['server-log'] as string | undefined
  if (values.prometheus !== undefined) {
    if (values.dir !== undefined || positionals.length > 0) throw new UsageError('give --prometheus, --dir or three files, not more than one')
    if (values.watch) throw new UsageError('--watch reads trace files; Prometheus is asked once')
    if (values.out === undefined) throw new UsageError('--prometheus needs -o out.svg')
    if (values.instance === undefined) throw new UsageError('--prometheus needs --instance, the target\'s instance label (for example gpu-host-3:9464)')
    if (values.from === undefined || values.to === undefined) throw new UsageError('--prometheus needs --from and --to')
    let url: URL
    try {
      url = new URL(values.prometheus)
    } catch {
      throw new UsageError(`--prometheus: not a URL: ${values.prometheus}`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--prometheus takes an http:// or https:// URL')
    const now = Date.now()
    prometheus = {
      url: url.href,
      instance: values.instance,
      fromMs: whenText(values.from, '--from', zoneAsked, now),
      toMs: whenText(values.to, '--to', zoneAsked, now),
      ...(values.step !== undefined ? { stepS: number(values.step.replace(/s$/, ''), '--step (seconds)', 1, 86400) } : {}),
    }
    if (prometheus.toMs <= prometheus.fromMs) throw new UsageError('--to must be after --from')
    procPath = ''
    sysPath = ''
    outPath = values.out
  } else if (values.dir !== undefined) {
    if (positionals.length > 0) throw new UsageError('give either --dir or three files, not both')
    const pair = newestInDir(values.dir, values.out)
    ;({ procPath, sysPath, outPath } = pair)
    serverLogPath ??= pair.serverLogPath
  } else {
    if (positionals.length !== 3) throw new UsageError('expected <process.tsv> <system.log> <out.svg>, or --dir DIR')
    ;[procPath, sysPath, outPath] = positionals as [string, string, string]
  }
  const extra = values.report !== undefined ? [values.report, ...(pngBeside(outPath) !== outPath ? [pngBeside(outPath)] : [])] : []
  if (!prometheus) refuseOverwritingInputs([procPath, sysPath], [outPath, ...extra])
  const lowFreePct = number(values['low-free'] as string, '--low-free', 0, 100)
  const width = number(values.width as string, '--width', 400, 20000)
  const height = number(values.height as string, '--height', 300, 20000)
  const scale = number(values.scale as string, '--scale', 1, 4)
  const zone = zoneAsked
  const theme = values.theme as string
  if (theme !== 'light' && theme !== 'dark') throw new UsageError('--theme must be light or dark')
  const pids = values.pid?.split(',').map(p => p.trim())
  if (pids && pids.some(p => !/^[1-9]\d{0,9}$/.test(p))) throw new UsageError(`--pid wants process IDs separated by commas, not "${values.pid}"`)
  return {
    theme,
    watch: values.watch as boolean,
    procPath,
    sysPath,
    outPath,
    lowFreePct,
    zone,
    width: Math.round(width),
    height: Math.round(height),
    scale,
    quiet: values.quiet as boolean,
    json: values.json as boolean,
    ...(values.report !== undefined ? { reportPath: values.report } : {}),
    ...(serverLogPath !== undefined ? { serverLogPath } : {}),
    ...(values.plan !== undefined ? { plan: values.plan } : {}),
    ...(prometheus ? { prometheus } : {}),
    ...(pids ? { pids: pids.map(Number) } : {}),
    argv,
  }
}

/** `--from`/`--to`: ISO 8601 (a time without a zone is in `zone`), unix seconds, `now`, `now-2h`. */
export function whenText(text: string, name: string, zone: string, now: number): number {
  const t = text.trim()
  const rel = /^now(?:-(\d+(?:\.\d+)?)(s|m|h|d))?$/.exec(t)
  if (rel) return now - (rel[1] ? Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'] : 0)
  if (/^\d{9,11}(?:\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000)
  const iso = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?(Z|[+-]\d\d:?\d\d)?$/.exec(t)
  if (!iso) throw new UsageError(`${name}: expected a time such as 2026-11-23T02:00:00Z, 1763863200, now or now-1h, got "${text}"`)
  const [, y, mo, d, h, mi, sec, z] = iso
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), 0) + Math.round(Number(sec ?? 0) * 1000)
  if (z) return z === 'Z' ? wall : wall - (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(-2))) * 60_000
  // A wall-clock time in the zone: the offset there at about that moment (twice, for the day the clocks change).
  let ms = wall - zoneOffsetMs(wall, zone)
  ms = wall - zoneOffsetMs(ms, zone)
  return ms
}

/** A file as the system sees it: links resolved where the file exists. */
function canonical(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return resolve(path)
  }
}

/** An output that is one of the inputs would destroy the trace it is drawn from. */
function refuseOverwritingInputs(inputs: string[], outputs: string[]): void {
  const ins = new Set(inputs.map(canonical))
  for (const o of outputs) if (ins.has(canonical(o))) throw new UsageError(`${o} is one of the traces: choose another output file`)
  const outs = outputs.map(canonical)
  if (new Set(outs).size < outs.length) throw new UsageError('two outputs are the same file: give the chart and the report different names')
}

function number(text: string, name: string, min: number, max: number): number {
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max) throw new UsageError(`${name} must be a number from ${min} to ${max}`)
  return v
}

