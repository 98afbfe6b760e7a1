/**
 * Ollama's prediction against what was allocated and measured, where they
 * part by more than a quarter; and an MLX or Metal model beyond the working
 * set the GPU recommends. Pure.
 */
import type { ServerEvent } from '../../schemas/index.js'
import { type Ctx, type Draft, draft, firstMs, gib, lines, range } from './context.js'
import { nameOf, placed } from './decisions.js'
import { errorPct, loadModel, type RunnerFigures } from './loads.js'

/** A prediction is off when it misses by more than this share of the actual figure… */
export const PREDICTION_OFF_SHARE = 0.25
/** …and by at least this much: a tiny model's few MiB are no finding. */
export const PREDICTION_OFF_MIN_BYTES = 64 * 2 ** 20

interface Off {
  f: RunnerFigures
  predicted: number
  actual: number
  against: 'allocated' | 'measured'
  pct: number
  ms: number
}

/** The actual figure a prediction is set against: what was allocated, else what was measured (RSS and the runner's own GPU memory). */
export function actualOf(f: RunnerFigures): { bytes: number; against: 'allocated' | 'measured' } | undefined {
  if (f.allocated) return { bytes: f.allocated.totalBytes, against: 'allocated' }
  if (f.rssBytes !== undefined) return { bytes: f.rssBytes + (f.gpuBytes ?? 0), against: 'measured' }
  return undefined
}

export function predictionFindings(ctx: Ctx): Draft[] {
  const found: Off[] = []
  for (const f of ctx.server?.figures ?? []) {
    const actual = f.predicted && actualOf(f)
    if (!f.predicted || !actual) continue
    const ms = placed(ctx, f.predicted.event) ?? (f.runner ? firstMs(f.runner) : undefined)
    if (ms === undefined) continue
    const diff = f.predicted.bytes - actual.bytes
    if (Math.abs(diff) < PREDICTION_OFF_MIN_BYTES || Math.abs(diff) <= PREDICTION_OFF_SHARE * actual.bytes) continue
    found.push({ f, predicted: f.predicted.bytes, actual: actual.bytes, against: actual.against, pct: errorPct(f.predicted.bytes, actual.bytes), ms })
  }
  return lines(found, o => loadModel(o.f.load), o => one(ctx, o), g => many(ctx, g))
}

const pctText = (pct: number) => `${pct > 0 ? '+' : '−'}${Math.abs(pct) >= 100 ? Math.round(Math.abs(pct)) : Math.abs(pct).toFixed(1).replace(/\.0$/, '')} %`

function where(f: RunnerFigures): string {
  const a = f.allocated
  if (!a || a.from === 'total' && a.systemBytes + a.deviceBytes === 0) return ''
  return ` (${gib(a.systemBytes)} in system RAM, ${gib(a.deviceBytes)} on the GPU)`
}

function one(ctx: Ctx, o: Off): Draft {
  const { f } = o
  const who = f.runner ? nameOf(ctx, f.runner) : loadModel(f.load)
  let text = `Ollama predicted ${gib(o.predicted)} for ${who} at ${ctx.at(o.ms)}, but it ${o.against === 'allocated' ? `allocated ${gib(o.actual)}${where(f)}` : `held ${gib(o.actual)} (peak RSS${f.gpuBytes !== undefined ? ' and GPU memory' : ''})`}`
  if (o.against === 'allocated' && f.rssBytes !== undefined) text += ` and held ${gib(f.rssBytes)} RSS at most`
  text += `: the prediction was ${pctText(o.pct)} off, ${o.pct > 0 ? 'too high (it evicts or refuses models that would fit)' : 'too low (it loads more than fits)'}.`
  const figures: Record<string, number> = { predictedBytes: o.predicted, [o.against === 'allocated' ? 'allocatedBytes' : 'measuredBytes']: o.actual, errorPct: o.pct }
  if (f.rssBytes !== undefined) figures.rssBytes = f.rssBytes
  if (f.gpuBytes !== undefined) figures.gpuBytes = f.gpuBytes
  return draft('prediction-off', o.ms, undefined, f.runner ? [f.runner] : [], text, figures)
}

function many(ctx: Ctx, g: Off[]): Draft {
  const first = g[0] as Off
  const last = g[g.length - 1] as Off
  const models = [...new Set(g.map(o => loadModel(o.f.load)))]
  const high = g.filter(o => o.pct > 0).length
  const pcts = g.map(o => o.pct)
  const text =
    `Ollama's prediction was off on ${g.length} loads of ${models.slice(0, 3).join(', ')}${models.length > 3 ? ` and ${models.length - 3} more` : ''}, from ${ctx.at(first.ms)} to ${ctx.at(last.ms)}: ` +
    `it predicted ${range(g.map(o => o.predicted))} where ${g.every(o => o.against === 'allocated') ? 'the runners allocated' : 'the runners held'} ${range(g.map(o => o.actual))} ` +
    `(${pctText(Math.min(...pcts))}${Math.min(...pcts) !== Math.max(...pcts) ? ` to ${pctText(Math.max(...pcts))}` : ''}; ${high === g.length ? 'too high each time' : high === 0 ? 'too low each time' : `${high} too high, ${g.length - high} too low`}).`
  const runners = g.map(o => o.f.runner).filter((s): s is NonNullable<typeof s> => s !== undefined)
  return draft('prediction-off', first.ms, last.ms, runners, text, { count: g.length, predictedBytes: Math.max(...g.map(o => o.predicted)), errorPct: pcts.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a)) })
}

/**
 * MLX's warning that a model exceeds the recommended working set (with its
 * figures), and a Metal load whose GPU buffers are beyond the
 * `recommendedMaxWorkingSetSize` ggml-metal printed.
 */
export function workingSetFindings(ctx: Ctx): Draft[] {
  const out: Draft[] = []
  for (const e of ctx.server?.events ?? []) {
    const f = e.figures ?? {}
    if (e.kind !== 'working-set' || f.activeBytes === undefined || f.recommendedBytes === undefined || f.activeBytes <= f.recommendedBytes) continue
    const ms = placed(ctx, e)
    if (ms === undefined) continue
    const load = ctx.server?.loads.find(l => l.events.includes(e))
    const who = load?.runner ? nameOf(ctx, load.runner) : load ? `the runner for ${loadModel(load)}` : 'an MLX runner'
    out.push(draft('working-set', ms, undefined, load?.runner ? [load.runner] : [], `At ${ctx.at(ms)} ${who} had ${gib(f.activeBytes)} active, beyond the ${gib(f.recommendedBytes)} the GPU recommends as its working set: Ollama warned that performance may be degraded.`, { activeBytes: f.activeBytes, recommendedBytes: f.recommendedBytes }))
  }
  for (const load of ctx.server?.loads ?? []) {
    const rec = load.events.find((e: ServerEvent) => e.kind === 'working-set' && e.figures?.recommendedBytes !== undefined && e.figures.activeBytes === undefined)?.figures?.recommendedBytes
    const onGpu = ctx.server?.figures.find(x => x.load === load)?.allocated?.deviceBytes
    if (rec === undefined || onGpu === undefined || onGpu <= rec) continue
    const ms = load.events.map(e => placed(ctx, e)).find(m => m !== undefined) ?? (load.runner ? firstMs(load.runner) : undefined)
    if (ms === undefined) continue
    const who = load.runner ? nameOf(ctx, load.runner) : `the runner for ${loadModel(load)}`
    out.push(draft('working-set', ms, undefined, load.runner ? [load.runner] : [], `At ${ctx.at(ms)} ${who} put ${gib(onGpu)} on the GPU, beyond the ${gib(rec)} Metal recommends as its working set: macOS may page it, and the model runs slower.`, { deviceBytes: onGpu, recommendedBytes: rec }))
  }
  return out
}
