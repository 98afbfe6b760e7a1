/** The outputs of an experiment: the Markdown table and the results chart. */
import { scaleLinear } from 'd3-scale'
import type { BenchStep } from '../schemas/index.js'
import { el, text } from '../core/svg.js'
import { markdownText } from '../core/safe-text.js'
import { gibOrMib as gib } from '../core/units.js'
import { BUSY_PCT, NOT_GIVEN_BACK_BYTES as SETTLED_BYTES, busySteps, firstSigns, type ParallelVerdict, signsText } from './rules.js'

export interface SweepSettings {
  model: string
  numCtx: number
  requests: number
  warmup: number
  cooldownMs: number
  seed: number
  temperature: number
}

/** Per-slot bytes measured (the rise of idle RSS per slot, least squares) and predicted by `plan`. */
export interface PerSlot {
  measuredBytes?: number
  predictedBytes?: number
}

/** The whole runner of a parallel sweep's own server: its RSS at P=1 against plan's weights + NP slots + compute. */
export interface RunnerPlan {
  numParallel: number
  measuredBytes?: number
  predictedBytes?: number
  /** KV cache per slot by plan (f16). */
  perSlotBytes?: number
  /** Ollama's own prediction, from its log (0.30 says one only when other models are loaded). */
  ollamaBytes?: number
  /** What llama.cpp or Ollama's engine allocated, from the log. */
  allocatedBytes?: number
}

/** `(error +4%)`: the prediction's error against the measurement. */
function errorPct(predicted: number | undefined, measured: number | undefined): string {
  return measured !== undefined && predicted !== undefined && measured > 0 ? ` (error ${predicted >= measured ? '+' : '−'}${Math.round((Math.abs(predicted - measured) / measured) * 100)}%)` : ''
}

/** The slope of y over x by least squares; undefined with fewer than two distinct x. */
export function slope(points: [number, number][]): number | undefined {
  if (new Set(points.map(p => p[0])).size < 2) return undefined
  const n = points.length
  const mx = points.reduce((a, p) => a + p[0], 0) / n
  const my = points.reduce((a, p) => a + p[1], 0) / n
  const num = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0)
  const den = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0)
  return num / den
}

/** Sizes in the tables: GiB with two decimals from 1 GiB on, MiB below (a step's slots can differ by a few MiB). */
const num = (v: number | undefined, digits = 1) => (v === undefined ? '–' : v.toFixed(digits))

function spans(steps: BenchStep[], phase: string): string {
  const at = steps.filter(s => s.phase === phase).map(s => s.step)
  if (at.length === 0) return ''
  return `${phase} ${at.length > 1 ? `${at[0]}–${at[at.length - 1]}` : at[0]}`
}

/** `2 / 31 %`: the CPU others used before and during a step. */
function otherCpu(x: BenchStep): string {
  if (x.otherCpuPct === undefined && x.otherCpuPctBefore === undefined) return '–'
  return `${x.otherCpuPctBefore !== undefined ? x.otherCpuPctBefore.toFixed(0) : '–'} / ${x.otherCpuPct !== undefined ? x.otherCpuPct.toFixed(0) : '–'} %`
}

/** Why nothing is named: the steps measured on a busy host; '' when none was. */
export function busyText(steps: BenchStep[], unit: string): string {
  const busy = busySteps(steps)
  if (busy.length === 0) return ''
  return `the host was busy (other processes used ${busy.map(b => `${b.pct.toFixed(0)} % of the CPU at ${unit} ${b.step}`).join(', ')}; the rules name nothing unless others used ${BUSY_PCT} % or less before and during every step)`
}

/** `120 / 180 / 195`: p50, p95 and p99 of one latency, in ms. */
function pcts(x: BenchStep, name: 'ttft' | 'tpot' | 'itl' | 'e2e'): string {
  const v = [50, 95, 99].map(p => x[`${name}P${p}Ms` as keyof BenchStep] as number | undefined)
  if (v.every(y => y === undefined)) return '–'
  const digits = name === 'tpot' || name === 'itl' ? 1 : 0
  return v.map(y => num(y, digits)).join(' / ')
}

/** The latencies per step as the serving benchmarks report them (TTFT, TPOT, ITL, E2E; p50 / p95 / p99). */
function latencyTable(steps: BenchStep[], unit: string): string[] {
  const rows = steps.filter(x => x.ttftP50Ms !== undefined || x.e2eP50Ms !== undefined)
  if (rows.length === 0) return []
  return [
    `Latency per request, ms, p50 / p95 / p99 over the step's requests (ITL over every gap between streamed tokens):`,
    '',
    `| ${unit} | TTFT | TPOT | ITL | E2E |`,
    '|---:|---:|---:|---:|---:|',
    ...rows.map(x => `| ${x.step} | ${pcts(x, 'ttft')} | ${pcts(x, 'tpot')} | ${pcts(x, 'itl')} | ${pcts(x, 'e2e')} |`),
    '',
  ]
}

/** `Made with Ollama 0.11.4 (memtrace 0.1.0) on …`: what the lines record of how they were made, said once above a table. */
export function madeWith(steps: BenchStep[]): string {
  const v = steps.find(x => x.versions)?.versions
  const h = steps.find(x => x.host)?.host
  const st = steps.find(x => x.settings?.kvCacheType !== undefined || x.settings?.flashAttention !== undefined || x.settings?.batch !== undefined)?.settings
  if (!v && !h) return ''
  const server = v?.ollama ? `Ollama ${v.ollama}` : 'a server that did not say its version'
  const host = h ? ` on ${[h.osName ?? h.os, h.kernel].filter(Boolean).join(', kernel ')}${h.cpus ? `, ${h.cpus} × ${h.cpuModel ?? 'CPU'}` : ''}${h.memTotalBytes ? `, ${gib(h.memTotalBytes)}` : ''}${h.gpus?.length ? `, ${h.gpus.map(g => g.name).join(' + ')}` : ''}` : ''
  const set = st ? `; KV cache ${st.kvCacheType ?? 'not said'}, flash attention ${st.flashAttention === undefined ? "the server's default" : st.flashAttention ? 'on' : 'off'}${st.batch ? `, batch ${st.batch}` : ''}` : ''
  return markdownText(`Made with ${server}${v?.memtrace ? ` (memtrace ${v.memtrace})` : ''}${host}${set}.`)
}

/** The rules' test, said under each table. */
export const SPREAD_TEST = 'a difference counts only when the two means lie further apart than their two standard deviations together'

/** Said at the top of the results of a sweep that did not end on its own. */
export function interruptedText(interrupted: { signal: string; steps: number }): string {
  return `**Interrupted** (${interrupted.signal}) after ${interrupted.steps} finished step${interrupted.steps === 1 ? '' : 's'}: these are the steps that finished, as they were written when each ended. Nothing is named: the rules need the whole sweep.`
}

export function markdown(steps: BenchStep[], s: SweepSettings, perSlot: PerSlot, interrupted?: { signal: string; steps: number }, kind: 'num-parallel' | 'num-ctx' = 'num-parallel'): string {
  const ctx = kind === 'num-ctx'
  const unit = ctx ? 'num_ctx' : 'NP'
  const rows = steps.map(x =>
    x.outcome !== 'ok' && x.genTps === undefined
      ? `| ${x.step} | | ${markdownText(x.outcome)} | | | | | | | | | | |`
      : `| ${x.step} | ${x.effectiveNp ?? '?'}${x.npMismatch ? ' ⚠' : ''} | ${num(x.genTps)} ± ${num(x.genTpsSd)} | ${num(x.prefillTps, 0)} | ${num(x.ttftMs, 0)} | ${x.rssIdleBytes !== undefined ? gib(x.rssIdleBytes) : '–'} | ${x.rssPeakBytes !== undefined ? gib(x.rssPeakBytes) : '–'} | ${x.swapGrowthBytes !== undefined ? gib(x.swapGrowthBytes) : '–'} | ${x.pageOuts ?? '–'} | ${x.freePctMin !== undefined ? `${num(x.freePctMin)}%` : '–'} | ${otherCpu(x)} | ${x.phase ?? ''} | ${x.cause ?? ''}${x.outcome !== 'ok' ? ` ${markdownText(x.outcome)}` : ''} |`,
  )
  const lines = [
    `# memtrace bench ${kind}: ${markdownText(s.model)}`,
    '',
    ...(interrupted ? [interruptedText(interrupted), ''] : []),
    `${ctx ? 'NUM_PARALLEL 1' : `num_ctx ${s.numCtx}`}, one request at a time: ${s.requests} request${s.requests === 1 ? '' : 's'} per step after ${s.warmup ? `${s.warmup} warm-up${s.warmup === 1 ? '' : 's'}` : 'no warm-up (the first request loads the model)'}, ${s.cooldownMs / 1000} s apart; seed ${s.seed}, temperature ${s.temperature}. ${ctx ? 'The server restarts at each step, and each request asks for num_ctx as the step says, so the runner allocates the KV cache of that context;' : 'The server restarts with OLLAMA_NUM_PARALLEL = NP at each step;'} memory is from memtrace's trace of the step (after the warm-up). "Other CPU" is what processes other than the server, its runners and memtrace used, in % of the machine, over a second before the requests and while they ran.`,
    ...(madeWith(steps) ? ['', madeWith(steps)] : []),
    '',
    `| ${unit} | runner NP | gen t/s | prefill t/s | TTFT ms | RSS idle | RSS peak | swap growth | page-outs | free min | other CPU | phase | cause |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    ...latencyTable(steps, unit),
  ]
  const named = ['flat', 'degradation', 'cliff', 'stabilized'].map(p => spans(steps, p)).filter(Boolean)
  const busy = busyText(steps, unit)
  const signs = signsText(firstSigns(steps), unit)
  if (!interrupted) {
    if (busy) lines.push(`Phases: none named: ${busy}.`)
    else if (named.length) {
      lines.push(`Phases: ${named.join(', ')} (${SPREAD_TEST}).`)
      lines.push(steps.some(x => x.cause === 'memory') ? `Cause: memory (${ctx ? 'the prompt and the tokens asked for are the same at every step: only the context allocated grew' : 'one request at a time holds compute constant'})${signs ? `; ${signs}` : ''}.` : `Cause: none (no step slower beyond the spread)${signs ? `; memory still showed ${signs}` : ''}.`)
    }
    if (!busy && steps.some(x => x.genTps !== undefined && (x.requests ?? 0) < 2)) lines.push('With one request a step there is no spread: the phases are read from the means alone.')
  }
  const mismatch = steps.filter(x => x.npMismatch)
  if (mismatch.length) lines.push(`⚠ The runner did not get the NUM_PARALLEL asked for at NP ${mismatch.map(x => `${x.step} (got ${x.effectiveNp})`).join(', ')}.`)
  if (perSlot.measuredBytes !== undefined || perSlot.predictedBytes !== undefined) {
    const m = perSlot.measuredBytes
    const p = perSlot.predictedBytes
    const err = errorPct(p, m)
    lines.push(
      ctx
        ? `Per 1,024 tokens of context: measured ${m !== undefined ? gib(m * 1024) : '–'} (the rise of idle runner RSS per token, least squares), predicted ${p !== undefined ? gib(p * 1024) : '–'} by \`memtrace plan\` (f16 KV cache of one slot over the same contexts)${err}.`
        : `Per slot: measured ${m !== undefined ? gib(m) : '–'} (the rise of idle runner RSS per NUM_PARALLEL, least squares), predicted ${p !== undefined ? gib(p) : '–'} by \`memtrace plan\` (f16 KV cache at ${s.numCtx})${err}.`,
    )
  }
  return `${lines.join('\n')}\n`
}

export function markdownParallel(steps: BenchStep[], s: SweepSettings & { numParallel?: number }, runner?: RunnerPlan, v?: ParallelVerdict, interrupted?: { signal: string; steps: number }): string {
  const rows = steps.map(x =>
    x.genTps === undefined
      ? `| ${x.step} | ${markdownText(x.outcome)} | | | | | | | | | |`
      : `| ${x.step} | ${num(x.genTps)} ± ${num(x.genTpsSd)} | ${num(x.totalTps)}${x.totalTpsSd ? ` ± ${num(x.totalTpsSd)}` : ''} | ${num(x.ttftP50Ms, 0)} | ${num(x.ttftMaxMs, 0)} | ${x.rssPeakBytes !== undefined ? gib(x.rssPeakBytes) : '–'} | ${x.swapGrowthBytes !== undefined ? gib(x.swapGrowthBytes) : '–'} | ${x.pageOuts ?? '–'} | ${x.freePctMin !== undefined ? `${num(x.freePctMin)}%` : '–'} | ${otherCpu(x)} | ${[...(x.verdict ?? []), ...(x.cause ? [`cause ${x.cause}`] : []), ...(x.outcome !== 'ok' ? [markdownText(x.outcome)] : [])].join(', ')} |`,
  )
  const at = (k: 'cliff' | 'peak' | 'knee') => steps.find(x => x.verdict?.includes(k))?.step
  const cliff = at('cliff')
  const causes = [...new Set(steps.filter(x => x.cause).map(x => x.cause))]
  const busy = busyText(steps, 'P')
  const base = v?.baseline?.from === 'total' ? ` (P=1's ${v.baseline.tps.toFixed(1)} t/s in all: one request cannot generate slower than its throughput in all, so its lower per-request reading, ${num(steps[0]?.genTps)}, is noise)` : ''
  const cliffText =
    cliff !== undefined
      ? `Cliff at P=${cliff} (per-request speed under half of P=1's${base}, beyond the spread)`
      : v?.cliffBetween
        ? `No cliff named: from P=${v.cliffBetween.from} per-request speed may be under half of P=1's${base}, but the spread cannot tell where it falls under${v.cliffBetween.to !== undefined ? ` (P=${v.cliffBetween.to} surely is)` : ''}`
        : "No cliff (per-request speed stayed above half of P=1's, or within the spread of it)"
  const signs = signsText(firstSigns(steps), 'P')
  const verdict = busy
    ? [`Nothing named: ${busy}`]
    : [
        cliffText,
        at('peak') !== undefined ? `throughput peak at P=${at('peak')}` : 'no throughput peak beyond the spread',
        at('knee') !== undefined ? `knee at P=${at('knee')} (throughput gained under 5 %, or within the spread)` : 'no knee',
        causes.length ? `cause: ${causes.join(' and ')}${causes.includes('memory') ? (signs ? ` (${signs})` : '') : ' (no page-outs, swap and compressor flat)'}` : '',
        SPREAD_TEST,
      ].filter(Boolean)
  return `${[
    `# memtrace bench parallel: ${markdownText(s.model)}`,
    '',
    ...(interrupted ? [interruptedText(interrupted), ''] : []),
    `num_ctx ${s.numCtx}${s.numParallel !== undefined ? `, a server of memtrace's own with OLLAMA_NUM_PARALLEL=${s.numParallel}` : ', the running server'}: P identical requests at once, ${s.requests} rounds per step after ${s.warmup} warm-up, ${s.cooldownMs / 1000} s apart; seed ${s.seed}, temperature ${s.temperature}.`,
    ...(madeWith(steps) ? ['', madeWith(steps)] : []),
    '',
    '| P | gen t/s per request | total t/s | TTFT p50 ms | TTFT max ms | RSS peak | swap growth | page-outs | free min | other CPU | |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    ...latencyTable(steps, 'P'),
    ...(interrupted ? [] : [`${verdict.join('; ')}.`]),
    ...(runner && (runner.measuredBytes !== undefined || runner.predictedBytes !== undefined)
      ? [
          `Runner: measured ${runner.measuredBytes !== undefined ? gib(runner.measuredBytes) : '–'} (its RSS at P=1, idle after the warm-up), predicted ${runner.predictedBytes !== undefined ? gib(runner.predictedBytes) : '–'} by \`memtrace plan\` for ${runner.numParallel} slot${runner.numParallel === 1 ? '' : 's'} of ${s.numCtx}${runner.perSlotBytes !== undefined ? ` (weights, ${gib(runner.perSlotBytes)} of f16 KV cache a slot, compute with flash attention)` : ''}${errorPct(runner.predictedBytes, runner.measuredBytes)}${runner.ollamaBytes !== undefined ? `; Ollama predicted ${gib(runner.ollamaBytes)}${errorPct(runner.ollamaBytes, runner.measuredBytes)}` : "; Ollama's log gave no prediction (0.30 says one only beside other models)"}${runner.allocatedBytes !== undefined ? `; the server's log says ${gib(runner.allocatedBytes)} was allocated${errorPct(runner.predictedBytes, runner.allocatedBytes).replace('error', "plan's error")}` : ''}. Per slot needs a NUM_PARALLEL sweep: the runner's own overhead is in this figure.`,
        ]
      : []),
  ].join('\n')}\n`
}

/** A model name cut to fit its column, by characters. */
function truncate(text: string, n: number): string {
  return text.length <= n ? text : `${text.slice(0, n - 1)}…`
}

export function markdownModels(steps: BenchStep[], s: SweepSettings & { order: string }, interrupted?: { signal: string; steps: number }): string {
  const rows = steps.map(
    x =>
      `| ${x.step} | ${markdownText(x.model)} | ${x.memBeforeBytes !== undefined ? gib(x.memBeforeBytes) : '–'} | ${x.rssPeakBytes !== undefined ? gib(x.rssPeakBytes) : '–'} | ${x.memAfterBytes !== undefined ? gib(x.memAfterBytes) : '–'} | ${x.notGivenBackBytes !== undefined ? `${x.notGivenBackBytes >= 0 ? '+' : '−'}${gib(Math.abs(x.notGivenBackBytes))}${x.notGivenBack ? ' ⚠' : ''}` : '–'} | ${x.unloadMs !== undefined ? (x.unloadMs / 1000).toFixed(1) : '–'} | ${x.genTps !== undefined ? `${num(x.genTps)} ± ${num(x.genTpsSd)}` : '–'} | ${markdownText(x.outcome)}${x.retried ? ' (after a restart)' : ''}${x.restarted ? ' (a fresh server first: the plan said it would not fit)' : ''} |`,
  )
  const held = steps.filter(x => x.notGivenBack)
  return `${[
    `# memtrace bench models: clean runs`,
    '',
    ...(interrupted ? [interruptedText(interrupted).replace('Nothing is named: the rules need the whole sweep.', '')
      .trim(), ''] : []),
    `num_ctx ${s.numCtx}; ${s.order === 'given' ? 'in the order given' : 'smallest first'}; ${s.requests} requests per model after a load; seed ${s.seed}, temperature ${s.temperature}. After each model: keep_alive 0, then a wait until /api/ps is empty, the runner has exited and memory has come back. "In use" is the host's memory in use (total − available); "runner peak" is the runner's RSS from the trace.`,
    ...(madeWith(steps) ? ['', madeWith(steps)] : []),
    '',
    '| # | model | in use before | runner peak | in use after unload | not given back | unload s | gen t/s | outcome |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    ...(held.length ? ['', `⚠ Not given back: ${held.map(x => `${markdownText(x.model)} (${gib(x.notGivenBackBytes ?? 0)})`).join(', ')}: more than ${gib(SETTLED_BYTES)} more in use once the model was unloaded and its runner gone than before it loaded.`] : []),
  ].join('\n')}\n`
}

const PHASE_COLOUR: Record<string, string> = { flat: '#1a7a3a', degradation: '#b35c00', cliff: '#c51b7d', stabilized: '#555555' }

/** Two panels over NP: generation speed (by phase), and runner RSS with page-outs. */
export function chart(steps: BenchStep[], s: SweepSettings, kind: 'num-parallel' | 'num-ctx' | 'parallel' | 'models' = 'num-parallel'): string {
  const sweep = kind === 'parallel'
  const byModel = kind === 'models'
  const ctx = kind === 'num-ctx'
  // Contexts double from step to step: placed by their logarithm, evenly.
  const at = (step: number) => (ctx ? Math.log2(step) : step)
  const W = 900
  const H = 560
  const L = 70
  const R = 30
  const ok = steps.filter(x => x.genTps !== undefined)
  const xs = scaleLinear()
    .domain([Math.min(...steps.map(t => at(t.step))) - 0.5, Math.max(...steps.map(t => at(t.step))) + 0.5])
    .range([L, W - R])
  const x = (step: number) => xs(at(step))
  const top = { y: 104, h: 166 }
  const bottom = { y: 330, h: 160 }
  const yGen = scaleLinear().domain([0, Math.max(1, ...ok.map(t => Math.max((t.genTps ?? 0) + (t.genTpsSd ?? 0), sweep ? (t.totalTps ?? 0) : 0)))]).nice().range([top.y + top.h, top.y])
  const yRss = scaleLinear().domain([0, Math.max(0.1, ...steps.map(t => (t.rssPeakBytes ?? 0) / 1024 ** 3))]).nice().range([bottom.y + bottom.h, bottom.y])
  const parts: string[] = [
    el('rect', { x: 0, y: 0, width: W, height: H, fill: '#ffffff' }),
    text({ x: L, y: 28, 'font-size': 18, 'font-weight': 'bold', fill: '#111111' }, byModel ? `Clean runs · ${steps.length} models · num_ctx ${s.numCtx}` : ctx ? `Context sweep · ${s.model} · NUM_PARALLEL 1` : `${sweep ? 'Concurrency' : 'NUM_PARALLEL'} sweep · ${s.model} · num_ctx ${s.numCtx}`),
    text({ x: L, y: 48, 'font-size': 12, fill: '#444444' }, byModel ? `one model at a time, ${s.requests} requests each, unloaded between them` : ctx ? `one request at a time, ${s.requests} per step; the server restarted with each context` : sweep ? `P identical requests at once, ${s.requests} rounds per step` : `one request at a time, ${s.requests} per step; the server restarted with each NUM_PARALLEL`),
    ...(!byModel && busySteps(steps).length ? [text({ x: L, y: 68, 'font-size': 12, fill: '#c51b7d' }, `Nothing named: other processes used up to ${Math.max(...busySteps(steps).map(b => b.pct)).toFixed(0)} % of the CPU during a step (the rules need ${BUSY_PCT} % or less)`)] : []),
    text({ x: L, y: top.y - 8, 'font-size': 13, 'font-weight': 'bold', fill: '#111111' }, sweep ? 'generation speed per request (t/s, mean ± sd) and in all (t/s, dashed)' : 'generation speed per request (t/s, mean ± sd)'),
    text({ x: L, y: bottom.y - 8, 'font-size': 13, 'font-weight': 'bold', fill: '#111111' }, 'runner RSS at peak (GiB); page-outs during the step above the points'),
  ]
  for (const [box, y, fmt] of [[top, yGen, (v: number) => String(v)], [bottom, yRss, (v: number) => `${v}`]] as const) {
    parts.push(el('rect', { x: L, y: box.y, width: W - L - R, height: box.h, fill: 'none', stroke: '#999999' }))
    for (const t of y.ticks(5)) {
      parts.push(el('line', { x1: L, x2: W - R, y1: y(t), y2: y(t), stroke: '#e5e5e5' }))
      parts.push(text({ x: L - 6, y: y(t) + 4, 'font-size': 11, 'text-anchor': 'end', fill: '#444444' }, fmt(t)))
    }
    for (const st of steps) parts.push(text({ x: x(st.step), y: box.y + box.h + 16, 'font-size': 11, 'text-anchor': 'middle', fill: '#444444' }, byModel ? truncate(st.model, Math.max(6, Math.floor((W - L - R) / steps.length / 6.5))) : String(st.step)))
  }
  parts.push(text({ x: (L + W - R) / 2, y: bottom.y + bottom.h + 36, 'font-size': 12, 'text-anchor': 'middle', fill: '#111111' }, byModel ? 'model, in the order run' : sweep ? 'concurrent requests (P)' : ctx ? 'num_ctx (tokens)' : 'OLLAMA_NUM_PARALLEL'))
  const line = (pts: [number, number][], colour: string, dash?: string) => (pts.length > 1 ? el('path', { d: `M${pts.map(p => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join('L')}`, fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-dasharray': dash }) : '')
  parts.push(line(ok.map(t => [x(t.step), yGen(t.genTps ?? 0)]), '#2c7bb6'))
  if (sweep) {
    const total = ok.filter(t => t.totalTps !== undefined)
    parts.push(line(total.map(t => [x(t.step), yGen(t.totalTps ?? 0)]), '#b35c00', '6 3'))
    for (const t of total) {
      parts.push(el('rect', { x: x(t.step) - 4, y: yGen(t.totalTps ?? 0) - 4, width: 8, height: 8, fill: '#b35c00' }))
      const marks = t.verdict?.join(', ')
      if (marks) parts.push(text({ x: x(t.step), y: yGen(t.totalTps ?? 0) - 10, 'font-size': 11, 'text-anchor': 'middle', fill: '#111111' }, marks))
    }
  }
  for (const t of ok) {
    const cx = x(t.step)
    const sdv = t.genTpsSd ?? 0
    parts.push(el('line', { x1: cx, x2: cx, y1: yGen((t.genTps ?? 0) - sdv), y2: yGen((t.genTps ?? 0) + sdv), stroke: '#2c7bb6' }))
    // A step with no phase named (a busy host, an interrupted sweep) is drawn plain, not as flat.
    parts.push(el('circle', { cx, cy: yGen(t.genTps ?? 0), r: 5, fill: sweep || byModel || t.phase === undefined ? '#2c7bb6' : (PHASE_COLOUR[t.phase] ?? '#2c7bb6') }))
  }
  for (const t of steps.filter(t => t.genTps === undefined)) parts.push(text({ x: x(t.step), y: top.y + top.h - 8, 'font-size': 11, 'text-anchor': 'middle', fill: '#c51b7d' }, '✕'))
  const rss = steps.filter(t => t.rssPeakBytes !== undefined)
  parts.push(line(rss.map(t => [x(t.step), yRss((t.rssPeakBytes ?? 0) / 1024 ** 3)]), '#7b3294'))
  for (const t of rss) {
    const cy = yRss((t.rssPeakBytes ?? 0) / 1024 ** 3)
    parts.push(el('circle', { cx: x(t.step), cy, r: 4, fill: '#7b3294' }))
    if (t.pageOuts) parts.push(text({ x: x(t.step), y: cy - 9, 'font-size': 11, 'text-anchor': 'middle', fill: '#c51b7d' }, String(t.pageOuts)))
  }
  let lx = L
  for (const [phase, colour] of Object.entries(sweep ? { 'per request': '#2c7bb6', 'in all': '#b35c00' } : byModel ? { 'gen t/s': '#2c7bb6' } : PHASE_COLOUR)) {
    parts.push(el('circle', { cx: lx + 5, cy: H - 18, r: 5, fill: colour }))
    parts.push(text({ x: lx + 14, y: H - 14, 'font-size': 12, fill: '#111111' }, phase))
    lx += 30 + phase.length * 7.5
  }
  parts.push(text({ x: lx + 10, y: H - 14, 'font-size': 12, fill: '#111111' }, '✕ did not load or answer'))
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">${parts.join('')}</svg>\n`
}
