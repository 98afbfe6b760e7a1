/** A runner's measured memory against what Ollama says it holds, where each lives. Pure. */
import type { LoadedModel } from '../../schemas/index.js'
import type { ProcSeries } from '../../core/model/trace.js'
import { GAP_FACTOR } from '../../core/model/intervals.js'
import { Lifetimes, snapsBetween } from './lookup.js'
import { gpuSourceOf, ownGpu, sharedPeak } from './gpu-use.js'
import { type Held, heldWithGpu, isUnified } from './unified.js'
import { arrival, type At, type Ctx, type Draft, cap, draft, firstMs, GIB, gib, join, lastMs, lines, listing, lowerBound, listSource, modelsOf, peakRss, range, runnerName, some } from './context.js'

/** A difference is a finding when it is at least this large, in bytes and as a share of Ollama's figure. */
export const CLAIM_MIN_BYTES = 1 * GIB
export const CLAIM_MIN_SHARE = 0.2
/**
 * On a discrete GPU, RSS above Ollama's system-RAM figure by up to this much
 * is what any CUDA runner holds: the CUDA runtime and its libraries, and the
 * mapped pages of the weights kept on the CPU (the token embeddings). Public
 * reports put a fully offloaded runner at 1–2 GiB RSS (docs/render.md).
 */
export const GPU_RUNTIME_RSS_BYTES = 2 * GIB

/** Ollama's figure for a runner: the largest it listed while the runner lived. */
export interface Claim {
  runner: ProcSeries
  model: LoadedModel
  atMs: number
  source: string
  peak: At
  /** What Ollama keeps in system memory: all of `size` on unified memory, else size − size_vram. */
  hostBytes: number
  gpu?: GpuUse
  /** Unified memory with a per-process GPU figure: `peak` is RSS plus GPU memory, both system RAM there. */
  held?: Held
}

/** GPU memory in use while the runner lived, all GPUs together (where the GPU gives it); and its own, where nvidia-smi or Windows' GPU counters listed it. */
interface GpuUse {
  peak?: At
  before?: At
  /** The most nvidia-smi's process rows (or Windows' GPU counters) gave the runner's PID. */
  own?: At
  /** Where the device's figure stops counting for this runner: the next runner's start. */
  cutMs?: number
}

/** Every named runner the server listed, with both figures (for the report's table too). */
export function claims(ctx: Ctx): Claim[] {
  const out: Claim[] = []
  const unified = isUnified(ctx.trace)
  const gpus = new GpuTotals(ctx)
  for (const s of ctx.runners) {
    if (!s.model) continue
    let best: Omit<Claim, 'runner' | 'peak' | 'hostBytes'> | undefined
    for (const snap of snapsBetween(ctx.trace.snapshots, ctx.snapTimes, firstMs(s), lastMs(s))) {
      const m = listing(snap, s.model, ctx.serverOf(s))
      if (m && m.sizeBytes > 0 && (!best || m.sizeBytes > best.model.sizeBytes)) best = { model: m, atMs: snap.tsMs, source: listSource(snap) }
    }
    const peak = peakRss(s)
    if (!best || !peak) continue
    const vram = best.model.sizeVramBytes ?? 0
    const hostBytes = unified ? best.model.sizeBytes : Math.max(0, best.model.sizeBytes - vram)
    const gpu = gpus.used(s)
    const held = heldWithGpu(ctx.trace, s)
    out.push({ runner: s, peak: held ?? peak, hostBytes, ...best, ...(gpu ? { gpu } : {}), ...(held ? { held } : {}) })
  }
  return out
}

/**
 * GPU memory in use, all GPUs together, summed once per system sample (NaN
 * where no GPU gave a figure); and when each runner starts, sorted, so that
 * a runner's share ends at the next start by a binary search, not a pass
 * over every runner.
 */
class GpuTotals {
  readonly #ctx: Ctx
  readonly #totals: Float64Array | undefined
  readonly #lives: Lifetimes

  constructor(ctx: Ctx) {
    this.#ctx = ctx
    const { tsMs, fields } = ctx.trace.sys
    const cols = [...fields.keys()].filter(n => n.startsWith('gpu-used:')).map(n => fields.get(n) as Float64Array)
    this.#lives = new Lifetimes(ctx.runners.filter(s => s.tsMs.length > 0))
    if (cols.length === 0) return
    const totals = new Float64Array(tsMs.length)
    for (let i = 0; i < totals.length; i++) {
      let sum = 0
      let any = false
      for (const c of cols) {
        const v = c[i] as number
        if (Number.isNaN(v)) continue
        sum += v
        any = true
      }
      totals[i] = any ? sum : NaN
    }
    this.#totals = totals
  }

  /**
   * The highest while the runner lived, up to the next runner's start (the
   * device's figure is all runners'), and the last sample before it started
   * (what others already held), when sampling ran up to its start; its own,
   * where nvidia-smi listed its PID. A GPU that gives no memory figure
   * (unified memory) may still give each process's.
   */
  used(s: ProcSeries): GpuUse | undefined {
    const ctx = this.#ctx
    const own = ownGpu(ctx, s.pid, firstMs(s), lastMs(s))
    const totals = this.#totals
    if (!totals) return own ? { own } : undefined
    const { tsMs } = ctx.trace.sys
    let peak: At | undefined
    let before: At | undefined
    const start = firstMs(s)
    let end = lastMs(s)
    let cutMs: number | undefined
    const next = this.#lives.firstAfter(start)
    if (next !== undefined && next <= end) {
      end = next - 1
      cutMs = next
    }
    for (let i = lowerBound(tsMs, start - GAP_FACTOR * ctx.sysPeriodMs); i < tsMs.length && (tsMs[i] as number) <= end; i++) {
      const t = tsMs[i] as number
      const v = totals[i] as number
      if (Number.isNaN(v)) continue
      if (t < start) before = { v, t }
      else if (!peak || v > peak.v) peak = { v, t }
    }
    if (!peak) return undefined
    // A runner already alive when this one started is in every figure: without the figure before, none is its own.
    const older = this.#lives.any(start, start, s)
    const from = arrival(ctx, s) === 'started' && before ? before : undefined
    if (!own && !from && older) return undefined
    return { peak, ...(from ? { before: from } : {}), ...(own ? { own } : {}), ...(cutMs !== undefined ? { cutMs } : {}) }
  }
}

/** The runner's own share of GPU memory: what nvidia-smi listed for it, else the rise over what was in use before it. */
const gpuShare = (g: GpuUse) => g.own?.v ?? (g.peak ? g.peak.v - (g.before?.v ?? 0) : 0)

const far = (a: number, b: number) => Math.abs(a - b) >= CLAIM_MIN_BYTES && (b === 0 || Math.abs(a - b) / b >= CLAIM_MIN_SHARE)

/**
 * RSS against Ollama's figure for system memory. On unified memory the GPU's
 * share sits in Metal's wired buffers, which RSS need not show: there only
 * more than Ollama's figure counts.
 */
function rssOff(c: Claim, unified: boolean): boolean {
  const onGpu = (c.model.sizeVramBytes ?? 0) > 0
  if (unified && onGpu && c.peak.v < c.hostBytes) return false
  if (!unified && onGpu && c.peak.v > c.hostBytes && c.peak.v - c.hostBytes <= GPU_RUNTIME_RSS_BYTES) return false
  return far(c.peak.v, c.hostBytes)
}

/** Where Ollama said the model lives, in words: `all in system RAM`, `18.6 GiB on the GPU, 1.4 GiB in system RAM`. */
export function whereText(c: Claim, unified: boolean): string {
  const size = c.model.sizeBytes
  const vram = c.model.sizeVramBytes
  if (unified) return `${gib(size)}, in unified memory`
  if (vram === undefined) return `${gib(size)}, with no GPU split given`
  if (vram === 0) return `${gib(size)}, all in system RAM`
  if (vram >= size) return `${gib(size)}, all on the GPU and none in system RAM`
  return `${gib(size)}: ${gib(vram)} on the GPU, ${gib(size - vram)} in system RAM`
}

/** Runners whose RSS (or the GPU's use) is far from Ollama's figure for it; runners of one model are one line. */
export function claimFindings(ctx: Ctx): Draft[] {
  const unified = isUnified(ctx.trace)
  const off = claims(ctx).filter(c => rssOff(c, unified) || (c.gpu && !c.held && c.model.sizeVramBytes && far(gpuShare(c.gpu), c.model.sizeVramBytes)))
  return lines(off, c => `${c.runner.server ?? ''}\n${c.runner.model ?? ''}`, c => one(ctx, c, unified), g => many(g, unified))
}

function figures(c: Claim): Record<string, number> {
  const f: Record<string, number> = { peakRssBytes: c.peak.v, ollamaSizeBytes: c.model.sizeBytes, ollamaHostBytes: c.hostBytes }
  if (c.model.sizeVramBytes !== undefined) f.ollamaSizeVramBytes = c.model.sizeVramBytes
  if (c.held) {
    f.peakRssBytes = c.held.rssBytes
    f.heldBytes = c.held.v
  }
  if (c.gpu) {
    if (c.gpu.peak) f.gpuUsedBytes = c.gpu.peak.v
    if (c.gpu.before) f.gpuUsedBeforeBytes = c.gpu.before.v
    if (c.gpu.own) f.gpuProcessBytes = c.gpu.own.v
  }
  return f
}

function one(ctx: Ctx, c: Claim, unified: boolean): Draft {
  const d = c.peak.v - c.hostBytes
  const share = c.hostBytes > 0 ? ` (${d > 0 ? '+' : '−'}${Math.round((Math.abs(d) / c.hostBytes) * 100)}%)` : ''
  const what = unified ? `the ${gib(c.hostBytes)} Ollama said it holds` : c.hostBytes === 0 ? 'what Ollama keeps in system RAM (none)' : `the ${gib(c.hostBytes)} Ollama keeps in system RAM`
  const rss = rssOff(c, unified)
    ? `, ${gib(Math.abs(d))} ${d > 0 ? 'more' : 'less'} than ${what}${share}`
    : far(c.peak.v, c.hostBytes) && d > 0 && !unified
      ? `, within the ${gib(GPU_RUNTIME_RSS_BYTES)} a CUDA runner holds beyond ${what}`
      : `, close to ${what}`
  const peaked = c.held
    ? `held at most ${gib(c.held.v)} of system RAM at ${ctx.at(c.held.t)} (${gib(c.held.rssBytes)} RSS plus the ${gib(c.held.gpuBytes)} ${gpuSourceOf(ctx.trace, c.runner.pid, c.held.t)} gave pid ${c.runner.pid} on the GPU, which is system RAM on this host)`
    : `peaked at ${gib(c.peak.v)} RSS at ${ctx.at(c.peak.t)}`
  let text = `${cap(runnerName(c.runner))} ${peaked}${rss}. ${c.source} at ${ctx.at(c.atMs)} gave ${c.model.name} ${whereText(c, unified)}.`
  const g = c.gpu
  const use = g && c.model.sizeVramBytes && !c.held ? gpuText(ctx, c, g) : ''
  if (use) text += ` ${use} against the ${gib(c.model.sizeVramBytes as number)} Ollama put there.`
  return draft('claim-vs-measured', firstMs(c.runner), lastMs(c.runner), [c.runner], text, figures(c))
}

/**
 * The runner's GPU memory: its own where its PID was listed; else the
 * device's rise, said to be the device's, up to where the next runner started.
 */
function gpuText(ctx: Ctx, c: Claim, g: GpuUse): string {
  if (g.own) {
    // An integrated GPU's allocations are in Shared Usage, which is not counted: said beside a figure that reads as nothing.
    const shared = gib(g.own.v) === gib(0) ? sharedPeak(ctx.trace, c.runner.pid, firstMs(c.runner), lastMs(c.runner)) : undefined
    const beside = shared && gib(shared.v) !== gib(0) ? ` and at most ${gib(shared.v)} of shared memory the GPU maps from system RAM (${ctx.at(shared.t)}),` : ''
    return `${gpuSourceOf(ctx.trace, c.runner.pid, g.own.t)} gave pid ${c.runner.pid} at most ${gib(g.own.v)} of GPU memory (${ctx.at(g.own.t)}),${beside}`
  }
  const cut = g.cutMs !== undefined ? `, counted until the next runner started at ${ctx.at(g.cutMs)}` : ''
  const device = `the GPU gave no figure for pid ${c.runner.pid}, so this is the device's use${cut}`
  if (!g.peak) return ''
  if (g.before) return `GPU memory in use rose by ${gib(gpuShare(g))}, from ${gib(g.before.v)} at ${ctx.at(g.before.t)} to ${gib(g.peak.v)} at ${ctx.at(g.peak.t)} (${device}),`
  return `GPU memory in use peaked at ${gib(g.peak.v)} (${ctx.at(g.peak.t)}; ${device}),`
}

function many(g: Claim[], unified: boolean): Draft {
  const first = g[0] as Claim
  const runners = g.map(c => c.runner)
  const more = g.filter(c => c.peak.v > c.hostBytes).length
  const dir = more === g.length ? 'more' : more === 0 ? 'less' : 'more or less'
  const where = unified ? 'Ollama said they hold' : 'Ollama keeps in system RAM'
  const text =
    `${g.length} runners of ${join(modelsOf(runners))} held ${dir} than ${where}: ${g.some(c => c.held) ? 'RSS plus GPU memory (system RAM on this host) at most' : 'peak RSS'} ${range(g.map(c => c.peak.v))} ` +
    `against ${range(g.map(c => c.hostBytes))} (${some(g.map(c => `pid ${c.runner.pid}`))}; ${first.source} figures).`
  const start = Math.min(...runners.map(firstMs))
  const end = Math.max(...runners.map(lastMs))
  return draft('claim-vs-measured', start, end, runners, text, { ...figures(first), runners: g.length })
}

