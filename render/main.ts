import { readdirSync, realpathSync } from 'node:fs'
import { lstat, rename, unlink, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { renderChartBytes } from './chart/render-chart.js'
import { checkZone, zoneOffsetMs } from './chart/time-axis.js'
import { InputError, loadTrace } from './load.js'
import { findFindings } from './findings/findings.js'
import { reportMarkdown } from './findings/report.js'
import { UsageError } from '../bin/errors.js'
import { jsonLine, oneLine } from './safe-text.js'
import { gib } from './units.js'
import type { PrometheusSource } from './prometheus.js'

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
  --width PX         chart width (default 1200)
  --height PX        chart height (default 800; grows to fit long legends)
  --scale N          pixels per SVG unit in a PNG (default 2, so text stays
                     legible when a tracker shrinks the picture; 1 to 4)
  --watch            render again whenever the traces grow (a live run in a browser tab)
  --json             print the findings as JSON lines (schema: memtrace schema finding)
  --report FILE      also write a Markdown report: findings, runners, host, command
  --plan M[:CTX:NP]  draw what memtrace plan predicts a runner of model M holds
                     (context CTX, NP slots; default 4096 and 1) as a dashed level
  -q, --quiet        print nothing but errors
  -h, --help         this text

Damaged lines are skipped and counted on stderr; the exit status is 0 when
anything was drawn, 1 for bad usage, 2 when an input cannot be used.`


export { UsageError }

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
  /** The arguments as given, for the report's command line. */
  argv?: string[]
  theme?: 'light' | 'dark'
  watch?: boolean
  /** `--plan MODEL[:CTX:NP]`: the level `memtrace plan` predicts for a runner. */
  plan?: string
  /** `--prometheus URL --instance I --from --to`: the traces come from Prometheus. */
  prometheus?: PrometheusSource
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
      width: { type: 'string', default: '1200' },
      height: { type: 'string', default: '800' },
      scale: { type: 'string', default: '2' },
      theme: { type: 'string', default: 'light' },
      quiet: { type: 'boolean', short: 'q', default: false },
      json: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      report: { type: 'string' },
      plan: { type: 'string' },
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
    ;({ procPath, sysPath, outPath } = newestInDir(values.dir, values.out))
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
    ...(values.plan !== undefined ? { plan: values.plan } : {}),
    ...(prometheus ? { prometheus } : {}),
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

/** What `memtrace plan` predicts a runner of MODEL[:CTX:NP] holds, from the model's GGUF header on this machine. */
async function planLevel(spec: string): Promise<{ label: string; bytes: number }> {
  const { findModel, modelDirs, parsePlanSpec, readFacts, runnerBytes } = await import('../bench/plan.js')
  const p = parsePlanSpec(spec)
  if (!p) throw new UsageError('--plan wants MODEL or MODEL:CTX:NP, e.g. qwen2.5-coder:7b:32768:4')
  const found = findModel(modelDirs(), p.model)
  if (!found) throw new InputError(`--plan: no manifest for ${oneLine(p.model)} in ${modelDirs().join(', ')}`)
  const facts = await readFacts(found.blob)
  if (typeof facts === 'string') throw new InputError(`--plan: ${oneLine(p.model)}: ${facts}`)
  const bytes = runnerBytes(facts, found.sizeBytes, { numCtx: p.numCtx, numParallel: p.numParallel, kvType: 'f16', flashAttention: true })
  return { label: `plan: ${p.model} at ${p.numCtx} × ${p.numParallel} slot${p.numParallel > 1 ? 's' : ''}, ${gib(bytes)}`, bytes }
}

/** The PNG a report's chart gets beside an SVG (or the PNG itself). */
function pngBeside(outPath: string): string {
  return outPath.toLowerCase().endsWith('.png') ? outPath : outPath.replace(/(\.svg)?$/i, '.png')
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

/** `20260225-140300` and `20260225-140300-2` (a second start in the same second): the key a pair of traces shares. */
const TRACE_RE = /^(ollama-process|system)-memtrace-(\d{8}-\d{6})(?:-(\d+))?\.(tsv|log)$/
/** Traces renamed by hand keep whatever stands between the prefix and the extension as their stamp. */
const LOOSE_RE = /^(ollama-process|system)-memtrace-(.+)()\.(tsv|log)$/

/**
 * The newest pair of traces in a directory: the process trace and the
 * system log that share one stamp (and suffix), never one of each from
 * different runs.
 */
export function newestInDir(dir: string, out: string | undefined) {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    throw new InputError(`cannot read directory ${dir}`)
  }
  const pairs = new Map<string, { stamp: string; n: number; suffix: string; strict: boolean; proc?: string; sys?: string }>()
  for (const name of names) {
    const strict = TRACE_RE.exec(name)
    const m = strict ?? LOOSE_RE.exec(name)
    if (!m || (m[1] === 'ollama-process') !== (m[4] === 'tsv')) continue
    const stamp = m[2] as string
    const n = m[3] ? Number(m[3]) : 1
    // Paired by the name as written: `-02` is not `-2`, and `-1` is not the plain name.
    const key = `${strict ? 's' : 'l'}:${stamp}#${m[3] ?? ''}`
    const p = pairs.get(key) ?? { stamp, n, suffix: m[3] ?? '', strict: strict !== null }
    if (m[1] === 'ollama-process') p.proc = name
    else p.sys = name
    pairs.set(key, p)
  }
  // Traces named as the daemon names them come before hand-renamed ones, whatever their names.
  const complete = [...pairs.values()]
    .filter(p => p.proc && p.sys)
    .sort((a, b) => Number(a.strict) - Number(b.strict) || (a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.n - b.n))
  const newest = complete[complete.length - 1]
  if (!newest) {
    const found = names.filter(n => LOOSE_RE.test(n)).sort()
    const seen = found.length ? `; found only ${found.slice(0, 6).join(', ')}${found.length > 6 ? ` and ${found.length - 6} more` : ''}, with no partner of the same stamp` : ''
    throw new InputError(`no traces in ${dir}: expected ollama-process-memtrace-<stamp>.tsv and system-memtrace-<stamp>.log${seen}`)
  }
  const stamp = newest.suffix ? `${newest.stamp}-${newest.suffix}` : newest.stamp
  return { procPath: join(dir, newest.proc as string), sysPath: join(dir, newest.sys as string), outPath: out ?? join(dir, `memtrace-${stamp}.svg`) }
}

const NO_FINDINGS = 'No findings: no runner overlap, no low free memory, no gaps.'

/** Renders and writes atomically: a failed run never leaves a half-written SVG. */
export async function runRender(a: RenderArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (a.watch) {
    const { watchAndRender } = await import('./watch.js')
    const silent = { write: () => true } as unknown as NodeJS.WritableStream
    return watchAndRender(a, async b => void (await renderOnce({ ...b, quiet: true }, silent, silent)), out, err)
  }
  return renderOnce(a, out, err)
}

async function renderOnce(a: RenderArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (!a.prometheus) return renderTraces(a, out, err)
  const { shownUrl, traceFromPrometheus } = await import('./prometheus.js')
  const from = await traceFromPrometheus(a.prometheus)
  try {
    return await renderTraces({ ...a, procPath: from.procPath, sysPath: from.sysPath }, out, err, { notes: from.notes, source: `Prometheus ${shownUrl(a.prometheus.url)} · instance ${a.prometheus.instance} · every ${from.stepS} s` })
  } finally {
    from.cleanup()
  }
}

async function renderTraces(a: RenderArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream, from?: { notes: string[]; source: string }): Promise<number> {
  const { trace, problems, procRows, sysBlocks } = await loadTrace(a.procPath, a.sysPath)
  const notes: string[] = [...(from?.notes ?? [])]
  if (problems.total > 0) notes.push(`Skipped as damaged: ${problems.total} line(s); see memtrace's stderr for where.`)
  if (trace.placeholders > 0) notes.push(`Left out ${trace.placeholders} "(ollama)" placeholder rows.`)
  if (trace.hiddenArgs > 0) notes.push(`${trace.hiddenArgs} Ollama process(es) drawn by name only: ps could not read their arguments (they run as another user, such as root); runners are named by what /api/ps listed. \`sudo memtrace start\` reads them.`)
  const findings = findFindings(trace, { zone: a.zone, lowFreePct: a.lowFreePct })
  notes.push(...(findings.length ? ['What happened:', ...findings.map(f => `${f.n}. ${f.text}`)] : [NO_FINDINGS]))
  const svg = renderChartBytes(trace, {
    width: a.width,
    height: a.height,
    zone: a.zone,
    lowFreePct: a.lowFreePct,
    procFile: basename(a.procPath),
    sysFile: basename(a.sysPath),
    ...(from ? { source: from.source } : {}),
    notes,
    theme: a.theme ?? 'light',
    findings,
    ...(a.plan !== undefined ? { plan: await planLevel(a.plan) } : {}),
  })
  // An output ending in .png gets a picture, for chats and trackers that refuse SVG.
  const isPng = a.outPath.toLowerCase().endsWith('.png')
  const outputs: [string, string | Buffer][] = [[a.outPath, isPng ? await toPng(svg, a.scale ?? 2) : svg]]
  if (a.reportPath) {
    // The report is for an issue, and issues take a PNG: an SVG chart gets one beside it.
    const pngPath = pngBeside(a.outPath)
    if (!isPng) outputs.push([pngPath, await toPng(svg, a.scale ?? 2)])
    const md = reportMarkdown(trace, findings, {
      zone: a.zone,
      lowFreePct: a.lowFreePct,
      chartName: basename(pngPath),
      procFile: a.procPath,
      sysFile: a.sysPath,
      command: ['memtrace', 'render', ...(a.argv ?? [])],
      home: homedir(),
    })
    outputs.push([a.reportPath, md])
  }
  await writeAll(outputs)
  for (const line of problems.summary()) err.write(`memtrace render: skipped ${oneLine(line)}\n`)
  if (procRows === 0) err.write(`memtrace render: ${basename(a.procPath)} has no process samples; drew the system panel only\n`)
  if (a.json) {
    for (const f of findings) out.write(`${jsonLine(f)}\n`)
  } else if (!a.quiet) {
    const runners = trace.procs.filter(p => p.role === 'runner').length
    out.write(
      `wrote ${a.outPath}: ${trace.procs.length} processes, ${runners} runners, ${sysBlocks} system samples\n`,
    )
    for (const [path] of outputs.slice(1)) out.write(`wrote ${path}\n`)
    for (const n of from?.notes ?? []) out.write(`${n}\n`)
    out.write(findings.length ? `\nWhat happened (times in ${a.zone}), most important first:\n${findings.map(f => `${f.n}. ${f.text}`).join('\n')}\n` : `\n${NO_FINDINGS}\n`)
  }
  return 0
}

/** Writes whole or not at all: never a half-written file. */
async function toPng(svg: string | Buffer, scale: number): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js')
  return Buffer.from(new Resvg(svg, { font: { loadSystemFonts: true }, background: '#ffffff', fitTo: { mode: 'zoom', value: scale } }).render().asPng())
}

/**
 * All outputs or none: each is written to a temporary file beside it, and
 * only when every one is complete are they renamed into place.
 */
async function writeAll(outputs: [string, string | Buffer][]): Promise<void> {
  // A directory in an output's place would fail only at its rename, after the others: refuse it first.
  for (const [path] of outputs) {
    const st = await lstat(path).catch(() => undefined)
    if (st?.isDirectory()) throw new InputError(`cannot write ${path}: it is a directory`)
  }
  const done: string[] = []
  let failed: [string, Error] | undefined
  for (const [path, data] of outputs) {
    const tmp = `${path}.tmp-${process.pid}`
    try {
      // Whatever sits at the temporary name goes first (unlink never follows a link); then O_EXCL:
      // a link planted in between fails the write instead of being followed.
      await unlink(tmp).catch(() => undefined)
      await writeFile(tmp, data, { mode: 0o644, flag: 'wx' })
      done.push(tmp)
    } catch (e) {
      failed = [path, e as Error]
      await unlink(tmp).catch(() => undefined)
      break
    }
  }
  if (!failed) {
    for (const [path] of outputs) {
      try {
        await rename(`${path}.tmp-${process.pid}`, path)
      } catch (e) {
        failed = [path, e as Error]
        break
      }
    }
  }
  if (failed) {
    await Promise.all(done.map(t => unlink(t).catch(() => undefined)))
    throw new InputError(`cannot write ${failed[0]}: ${failed[1].message}`)
  }
}
