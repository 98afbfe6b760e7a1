/**
 * `memtrace render --prometheus URL --instance I --from T1 --to T2`: the
 * chart and findings of a trace, from what a daemon's `--metrics` exposed
 * and Prometheus stored. The series are read with `query_range` at the
 * target's scrape interval (the system blocks once per system sample, at
 * the daemon's own tick) and written out as the two trace files the
 * daemon writes (a process TSV, a system log), in a private temporary
 * folder, so the renderer reads them with the parsers, the model and the
 * findings it uses for any trace. Nothing here decides a figure of its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InputError } from '../core/errors.js'
import { formatTs } from '../core/parse/time.js'
import { getCounterLines, gpuCounterLines, systeminfoLine } from '../core/counter-lines.js'
import { ADAPTER_RE } from '../core/parse/sections/windows.js'
import { apiGet, type Budget, MAX_POINTS_PER_SERIES, pointsIn, rangeOf, type Series } from './prometheus-api.js'
import { byTime, medianGapMs, procRows, systemBlocks, whole } from './prometheus-procs.js'
import { OLD_NAMES, type OldName, psiLines, renamed, SYSTEM_NAMES } from './prometheus-system.js'

export { shownUrl } from './prometheus-api.js'

export interface PrometheusSource {
  url: string
  instance: string
  fromMs: number
  toMs: number
  /** Seconds between points; by default the target's scrape interval. */
  stepS?: number
}

const MIB = 2 ** 20

/** `15s`, `1m`, `500ms` (Prometheus durations) → seconds. */
function promDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)
  return m ? Number(m[1]) * ({ ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h']) : undefined
}

/** The scrape interval of the target whose instance label is `instance`. */
async function scrapeInterval(src: PrometheusSource): Promise<number | undefined> {
  const data = (await apiGet(src.url, 'api/v1/targets', { state: 'active' })) as { activeTargets?: unknown } | null
  const targets = data && typeof data === 'object' && Array.isArray(data.activeTargets) ? (data.activeTargets as { labels?: Record<string, unknown>; scrapeInterval?: unknown }[]) : []
  const t = targets.find(x => x && typeof x === 'object' && x.labels?.instance === src.instance)
  return typeof t?.scrapeInterval === 'string' ? promDuration(t.scrapeInterval) : undefined
}

export interface FromPrometheus {
  procPath: string
  sysPath: string
  stepS: number
  /** What the chart and the findings should say of the source. */
  notes: string[]
  /** Removes the temporary folder. */
  cleanup: () => void
}

export async function traceFromPrometheus(src: PrometheusSource): Promise<FromPrometheus> {
  if (!(src.toMs > src.fromMs)) throw new InputError('--to must be after --from')
  const found = src.stepS ?? (await scrapeInterval(src))
  // memtrace's traces have whole seconds: a finer step would give two points one time.
  const stepS = Math.max(1, found ?? 15)
  const notes: string[] = []
  if (found === undefined) notes.push(`No active target has instance "${src.instance}": points every ${stepS} s (give --step to choose).`)
  const points = pointsIn(src.fromMs, src.toMs, stepS)
  if (points > MAX_POINTS_PER_SERIES) throw new InputError(`${points} points at ${stepS} s: memtrace draws at most ${MAX_POINTS_PER_SERIES} a series from Prometheus (a day at 1 s); give a shorter span or a larger --step`)
  const names = ['memtrace_process_resident_bytes', 'memtrace_process_gpu_memory_bytes', 'memtrace_runner_info', ...SYSTEM_NAMES, 'memtrace_process_pid_resident_bytes', 'memtrace_server_info', 'memtrace_marker_timestamp_seconds', 'memtrace_samples_total', 'memtrace_last_sample_timestamp_seconds'] as const
  // One metric at a time, so that no more than one answer is held as text at once.
  const budget: Budget = { points: 0 }
  const ask = async <N extends string>(list: readonly N[]): Promise<Record<N, Series[]>> => {
    const got: Record<string, Series[]> = {}
    for (const n of list) got[n] = await rangeOf({ ...src, stepS }, n, budget)
    return got as Record<N, Series[]>
  }
  const q = await ask(names)
  // A daemon before the metrics were renamed: its system and /api/ps series, under their old names.
  const old: Record<OldName, Series[]> = SYSTEM_NAMES.every(n => q[n].length === 0) ? await ask(OLD_NAMES) : (Object.fromEntries(OLD_NAMES.map(n => [n, []])) as unknown as Record<OldName, Series[]>)
  if (OLD_NAMES.some(n => old[n].length > 0)) renamed(q, old)
  if (Object.values(q).every(s => s.length === 0)) throw new InputError(`Prometheus has no memtrace series for instance "${src.instance}" between ${formatTs(src.fromMs)} and ${formatTs(src.toMs)}`)

  // The times: every point any series has.
  const seen = new Set<number>()
  for (const ss of Object.values(q)) for (const s of ss) for (const t of s.ts) seen.add(t)
  const times = [...seen].sort((a, b) => a - b)

  // Processes: each with its own PID where the daemon exports them apart, else each model's RSS under its first runner.
  const procs = procRows(times, { byPid: q.memtrace_process_pid_resident_bytes, resident: q.memtrace_process_resident_bytes, info: q.memtrace_runner_info })
  const proc = procs.tsv
  notes.push(...procs.notes)
  const infoAt = new Map<number, Record<string, string>[]>()
  for (const s of q.memtrace_runner_info) for (const t of s.ts) infoAt.set(t, [...(infoAt.get(t) ?? []), s.metric])

  // The system (and /api/ps) once per system sample, at the tick it was taken for, not at every step:
  // a listing seconds old is never read as a fresh answer beside a runner that started since.
  const { blocks, by } = systemBlocks(times, { sampleTime: q.memtrace_last_sample_timestamp_seconds, samples: q.memtrace_samples_total })
  const systemMs = Math.max(stepS * 1000, Math.round((medianGapMs(blocks.map(b => b.atMs)) ?? stepS * 1000) / 1000) * 1000)
  if (by === 'every') notes.push('This daemon exports no memtrace_samples_total: the system and /api/ps figures are read at every step, not at its own system interval.')

  // Markers: each text and time the daemon exported, once, where it falls in the window.
  const markers = new Map<string, { atMs: number; text: string; firstSeen: number }>()
  for (const s of q.memtrace_marker_timestamp_seconds) {
    s.ts.forEach((t, i) => {
      const atMs = Math.round((s.values[i] as number) * 1000)
      const k = `${atMs}\u0000${s.metric.text ?? ''}`
      if (atMs >= src.fromMs && atMs <= src.toMs && !markers.has(k)) markers.set(k, { atMs, text: s.metric.text ?? '', firstSeen: t })
    })
  }
  const markersLeft = [...markers.values()].sort((a, b) => a.firstSeen - b.firstSeen)

  // Several servers: each listing after the `memtrace server` line of its server, as the daemon writes them.
  const serversAt = new Map<number, { pid: number; address: string }[]>()
  for (const s of q.memtrace_server_info) {
    const pid = whole(s.metric.pid)
    if (pid !== undefined && s.metric.address) for (const t of s.ts) serversAt.set(t, [...(serversAt.get(t) ?? []), { pid, address: s.metric.address }])
  }

  // System blocks, in the layouts the renderer reads.
  const [total, free, available, wired, compressor, swapUsed, swapTotal, cgUsage, cgLimit, freeRatio] = (
    [q.memtrace_system_memory_total_bytes, q.memtrace_system_memory_free_bytes, q.memtrace_system_memory_available_bytes, q.memtrace_system_memory_wired_bytes, q.memtrace_system_memory_compressed_bytes, q.memtrace_swap_used_bytes, q.memtrace_swap_total_bytes, q.memtrace_cgroup_memory_usage_bytes, q.memtrace_cgroup_memory_limit_bytes, q.memtrace_system_memory_free_ratio] as Series[][]
  ).map(s => byTime(s)) as [Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>]
  // Windows' commit charge and limit: a Windows host, written as its daemon writes one.
  const commit = byTime(q.memtrace_system_commit_bytes)
  const commitLimit = byTime(q.memtrace_system_commit_limit_bytes)
  const psi = psiLines(q.memtrace_memory_pressure_stalled_seconds_total, old.memtrace_memory_pressure_ratio)
  // Up: the one server's, or each server's where a host runs several (the host answered where any did).
  const up = byTime(q.memtrace_ollama_up, m => m.server === undefined)
  const upOf = new Map(q.memtrace_ollama_up.filter(s => s.metric.server !== undefined).map(s => [s.metric.server as string, byTime([s])]))
  for (const m of upOf.values()) for (const [t, v] of m) up.set(t, Math.max(up.get(t) ?? 0, v))
  const listed = (s: Series) => `${s.metric.model ?? ''}\u0000${s.metric.server ?? ''}`
  const size = new Map(q.memtrace_ollama_model_loaded_bytes.map(s => [listed(s), { model: s.metric.model ?? '', server: s.metric.server ?? '', at: byTime([s]) }]))
  const vram = new Map(q.memtrace_ollama_model_vram_bytes.map(s => [listed(s), byTime([s])]))
  // A GPU is written by its index: a label that is not one is left out, and its process figures with it, but for
  // the adapters of Windows' GPU counters (ADAPTER_RE), which have no device figures and are written back as counters.
  const gpuIndexes = [...new Set(q.memtrace_gpu_memory_used_bytes.map(s => s.metric.gpu ?? ''))].filter(i => whole(i) !== undefined).sort((a, b) => Number(a) - Number(b))
  const gpuMaps = new Map(gpuIndexes.flatMap(i => (['used', 'total'] as const).map(k => [`${i}\u0000${k}`, byTime(k === 'used' ? q.memtrace_gpu_memory_used_bytes : q.memtrace_gpu_memory_total_bytes, m => m.gpu === i)] as const)))
  const gpu = (i: string, k: 'used' | 'total') => gpuMaps.get(`${i}\u0000${k}`) as Map<number, number>
  const processGpu = q.memtrace_process_gpu_memory_bytes.map(s => ({ metric: s.metric, at: byTime([s]) }))
  /** The runner a model's GPU memory at t goes to: one figure for all its runners, so only where the model has one (counted where it has more). */
  const runnerOf = (t: number, model: string | undefined): number | undefined => {
    const pids = procs.runnerPids.get(`${t}\u0000${model ?? ''}`)
    if (pids !== undefined && pids.length > 1) gpuShared.add(t)
    return pids?.length === 1 ? pids[0] : undefined
  }
  const kb = (b: number) => Math.round(b / 1024)
  let sys = ''
  /** The system samples at which a model's GPU memory had two runners to go to. */
  const gpuShared = new Set<number>()
  if (blocks.length === 0 || (blocks[0] as { atMs: number }).atMs > (times[0] as number)) blocks.unshift({ t: NaN, atMs: times[0] as number })
  for (const { t, atMs } of blocks) {
    const ts = formatTs(atMs)
    let b = `===== ${ts} =====\n`
    if (sys === '') b += `memtrace start ${JSON.stringify({ version: 'prometheus', pid: 0, interval_ms: stepS * 1000, system_interval_ms: systemMs })}\n`
    while (markersLeft.length && (markersLeft[0] as { firstSeen: number }).firstSeen <= t) {
      const m = markersLeft.shift() as { atMs: number; text: string }
      b += `memtrace marker ${JSON.stringify({ ts: new Date(m.atMs).toISOString(), text: m.text })}\n`
    }
    const tot = total.get(t)
    // macOS has wired and compressed memory, Linux MemAvailable; free is either's (free pages on macOS).
    const mac = wired.has(t) || compressor.has(t)
    const freePages = free
    if (commit.has(t) || commitLimit.has(t)) b += windowsMemory(ts, tot, available.get(t), commit.get(t), commitLimit.get(t))
    else if (tot !== undefined && !mac) {
      b += `MemTotal: ${kb(tot)} kB\n`
      if (free.has(t)) b += `MemFree: ${kb(free.get(t) as number)} kB\n`
      if (available.has(t)) b += `MemAvailable: ${kb(available.get(t) as number)} kB\n`
      if (swapTotal.has(t)) b += `SwapTotal: ${kb(swapTotal.get(t) as number)} kB\nSwapFree: ${kb((swapTotal.get(t) as number) - (swapUsed.get(t) ?? 0))} kB\n`
    } else if (mac) {
      if (tot !== undefined) b += `hw.memsize: ${tot}\n`
      if (freeRatio.has(t)) b += `System-wide memory free percentage: ${Math.round((freeRatio.get(t) as number) * 100)}%\n`
      b += 'Mach Virtual Memory Statistics: (page size of 16384 bytes)\n'
      if (freePages.has(t)) b += `Pages free:                               ${Math.round((freePages.get(t) as number) / 16384)}.\n`
      if (wired.has(t)) b += `Pages wired down:                         ${Math.round((wired.get(t) as number) / 16384)}.\n`
      if (compressor.has(t)) b += `Pages occupied by compressor:             ${Math.round((compressor.get(t) as number) / 16384)}.\n`
      if (swapTotal.has(t)) b += `vm.swapusage: total = ${((swapTotal.get(t) as number) / MIB).toFixed(2)}M  used = ${((swapUsed.get(t) ?? 0) / MIB).toFixed(2)}M  free = ${(((swapTotal.get(t) as number) - (swapUsed.get(t) ?? 0)) / MIB).toFixed(2)}M  (encrypted)\n`
    }
    b += psi(t)
    if (cgUsage.has(t)) {
      b += 'cgroup: (from Prometheus)\n'
      b += `memory.current:${cgUsage.get(t)}\n`
      b += `memory.max:${cgLimit.has(t) ? cgLimit.get(t) : 'max'}\n`
    }
    const gpus = gpuIndexes.filter(i => gpu(i, 'used').has(t))
    if (gpus.length) {
      b += 'index, uuid, memory.used [MiB], memory.total [MiB]\n'
      for (const i of gpus) b += `${i}, GPU-${i}, ${Math.round((gpu(i, 'used').get(t) as number) / MIB)} MiB, ${Math.round((gpu(i, 'total').get(t) ?? 0) / MIB)} MiB\n`
      // Each runner's own GPU memory, under the PID its row above carries.
      const apps = processGpu.flatMap(s => {
        const v = s.at.get(t)
        const pid = v !== undefined && whole(s.metric.gpu) !== undefined ? runnerOf(t, s.metric.model) : undefined
        return v !== undefined && pid !== undefined ? [`GPU-${s.metric.gpu}, ${pid}, ${Math.round(v / MIB)} MiB`] : []
      })
      if (apps.length) b += `gpu_uuid, pid, used_gpu_memory [MiB]\n${apps.join('\n')}\n`
    }
    // Windows' GPU counters, by adapter (its LUID, not an index): written back as Get-Counter prints them.
    const counted = processGpu.flatMap(s => {
      const v = s.at.get(t)
      const adapter = s.metric.gpu ?? ''
      if (v === undefined || !ADAPTER_RE.test(adapter)) return []
      const pid = runnerOf(t, s.metric.model)
      return pid !== undefined ? [{ instance: `pid_${pid}_${adapter}`, dedicated: String(Math.round(v)), shared: '' }] : []
    })
    b += gpuCounterLines({ time: ts, host: 'prometheus', rows: counted })
    if (up.get(t) === 1) {
      const infos = infoAt.get(t) ?? []
      const listing = (server: string) =>
        [...size.entries()]
          .filter(([, v]) => v.server === server && v.at.has(t))
          .map(([k, v]) => {
            const info = infos.find(i => i.model === v.model)
            const ctx = whole(info?.ctx)
            return { name: v.model, model: v.model, size: v.at.get(t), size_vram: vram.get(k)?.get(t) ?? 0, digest: info?.digest ?? '', ...(ctx ? { context_length: ctx } : {}) }
          })
      const servers = serversAt.get(t) ?? []
      // A server that did not answer has no listing here: its models are not taken as unlisted.
      if (servers.length > 1) for (const s of servers.filter(x => upOf.get(x.address)?.get(t) !== 0)) b += `memtrace server ${JSON.stringify({ pid: s.pid, address: s.address, via: 'prometheus' })}\n${JSON.stringify({ models: listing(s.address) })}\n`
      else b += `${JSON.stringify({ models: listing('') })}\n`
    } else if (up.get(t) === 0) b += `memtrace source-error ${JSON.stringify({ ts, source: 'api-ps', message: 'memtrace_ollama_up was 0: the server did not answer /api/ps' })}\n`
    sys += `${b}\n`
  }

  // Markers exported after the last system sample of the window: a block of their own at the last point.
  if (markersLeft.length) sys += `===== ${formatTs(times.at(-1) as number)} =====\n${markersLeft.map(m => `memtrace marker ${JSON.stringify({ ts: new Date(m.atMs).toISOString(), text: m.text })}\n`).join('')}\n`
  if (gpuShared.size > 0) notes.push(`At ${gpuShared.size} system sample(s) a model had two runners at once: its GPU memory is one figure for both, so neither runner's is compared with size_vram there.`)
  const dir = mkdtempSync(join(tmpdir(), 'memtrace-prometheus-'))
  const procPath = join(dir, 'ollama-process-memtrace-prometheus.tsv')
  const sysPath = join(dir, 'system-memtrace-prometheus.log')
  try {
    writeFileSync(procPath, proc, { mode: 0o600 })
    writeFileSync(sysPath, sys, { mode: 0o600 })
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    throw new InputError(`cannot write the traces from Prometheus in ${tmpdir()}: ${(e as Error).message}`)
  }
  notes.push(
    stepS <= 1
      ? `Drawn from Prometheus at one point a second, memtrace's own rate${systemMs > 1000 ? `; the system and /api/ps every ${systemMs / 1000} s, the daemon's system interval` : ''}.`
      : `Drawn from Prometheus at one point every ${stepS} s, not memtrace's 1 s: overlaps and runner lifetimes are known to ${stepS} s, and a runner that lived less than that may be missing.`,
  )
  return { procPath, sysPath, stepS, notes, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * A Windows host's memory as its daemon writes it: systeminfo's total, in
 * the whole MB it gives (and the daemon exported), then the counters in
 * Get-Counter's layout, in bytes.
 */
function windowsMemory(ts: string, total: number | undefined, available: number | undefined, commit: number | undefined, limit: number | undefined): string {
  const counters = [
    ['memory\\available bytes', available],
    ['memory\\committed bytes', commit],
    ['memory\\commit limit', limit],
  ].flatMap(([path, v]) => (v !== undefined ? [{ path: path as string, value: String(Math.round(v as number)) }] : []))
  return `${total !== undefined ? `${systeminfoLine('Total Physical Memory', total / 1024)}\n` : ''}${getCounterLines(ts, 'prometheus', counters)}`
}
