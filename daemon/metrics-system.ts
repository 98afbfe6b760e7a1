/**
 * The system's part of the metrics: memory, swap, the container's cgroup,
 * memory pressure and the GPUs, each total and each part a metric of its
 * own (a `sum` over a label never adds a total to its parts). Pressure is
 * exported as the kernel keeps it, a counter of stalled time, as
 * node_exporter does: a rate over any window is then Prometheus's to take.
 */
import client from 'prom-client'
import type { Pressure, SystemSample } from '../schemas/index.js'

/**
 * A counter that follows a figure the kernel counts since boot (PSI's
 * `total=`): it starts at that figure and grows by what the figure grew. A
 * figure that went down (a new cgroup, a reboot under a live daemon) starts
 * the series again, which Prometheus reads as a counter reset.
 */
export class FollowedCounter {
  readonly #counter: client.Counter<string>
  readonly #last = new Map<string, { labels: client.LabelValues<string>; total: number }>()

  constructor(counter: client.Counter<string>) {
    this.#counter = counter
  }

  /** This sample's figures; a series the sample no longer has is removed. */
  set(figures: { labels: client.LabelValues<string>; total: number }[]): void {
    const now = new Set<string>()
    for (const { labels, total } of figures) {
      if (!Number.isFinite(total) || total < 0) continue
      const key = JSON.stringify(labels)
      now.add(key)
      const last = this.#last.get(key)
      if (last === undefined || total < last.total) {
        if (last !== undefined) this.#counter.remove(labels)
        this.#counter.inc(labels, total)
      } else if (total > last.total) this.#counter.inc(labels, total - last.total)
      this.#last.set(key, { labels, total })
    }
    for (const [key, { labels }] of this.#last) {
      if (now.has(key)) continue
      this.#counter.remove(labels)
      this.#last.delete(key)
    }
  }
}

/** The gauges of one figure each, by metric name and the sample field it reads. */
const MEMORY: { name: string; help: string; of: (s: SystemSample) => number | null | undefined }[] = [
  { name: 'memtrace_system_memory_total_bytes', help: "Physical memory of the host (Linux MemTotal, macOS hw.memsize, Windows' total physical memory).", of: s => s.memTotalBytes },
  { name: 'memtrace_system_memory_free_bytes', help: 'Memory not used at all: Linux MemFree; macOS free pages times the page size.', of: s => s.freeBytes },
  { name: 'memtrace_system_memory_available_bytes', help: 'What can be had without swapping (free, plus caches the system can drop): Linux MemAvailable; Windows Memory\\Available Bytes.', of: s => (s.platform === 'linux' || s.platform === 'windows' ? s.availableBytes : undefined) },
  { name: 'memtrace_system_memory_wired_bytes', help: 'macOS wired memory (vm_stat Pages wired down), where Metal keeps a model on the GPU.', of: s => s.wiredBytes },
  { name: 'memtrace_system_memory_compressed_bytes', help: "macOS memory held by the compressor (vm_stat Pages occupied by compressor).", of: s => s.compressorBytes },
  { name: 'memtrace_swap_total_bytes', help: 'Swap space of the host.', of: s => s.swapTotalBytes },
  { name: 'memtrace_swap_used_bytes', help: 'Swap space in use.', of: s => s.swapUsedBytes },
  { name: 'memtrace_system_commit_bytes', help: 'Windows commit charge (Memory\\Committed Bytes): memory promised to processes, every page of it backed by RAM or a page file.', of: s => (s.platform === 'windows' ? s.commitBytes : undefined) },
  { name: 'memtrace_system_commit_limit_bytes', help: 'Windows commit limit (Memory\\Commit Limit: RAM plus page files): at it, allocations fail however much physical memory is free.', of: s => (s.platform === 'windows' ? s.commitLimitBytes : undefined) },
  { name: 'memtrace_cgroup_memory_usage_bytes', help: "The Ollama server's memory cgroup (v2): memory.current, its processes' memory and page cache together.", of: s => s.cgroup?.usageBytes },
  { name: 'memtrace_cgroup_memory_limit_bytes', help: "The Ollama server's memory cgroup (v2): memory.max, the limit at which the kernel kills inside it; absent when it has none.", of: s => s.cgroup?.limitBytes },
]

/** macOS's memory pressure levels as the kernel numbers them (kern.memorystatus_vm_pressure_level). */
export const MACOS_PRESSURE_LEVELS = new Set([1, 2, 4])

/** A gauge without labels emptied: prom-client's reset() alone leaves it at 0, which would say "measured, 0". */
export function clear(g: client.Gauge<string> | client.Counter<string>): void {
  g.reset()
  g.remove()
}

export class SystemMetrics {
  readonly #memory: { gauge: client.Gauge<string>; of: (s: SystemSample) => number | null | undefined }[]
  readonly #freeRatio: client.Gauge<string>
  readonly #stalled: FollowedCounter
  readonly #macLevel: client.Gauge<string>
  readonly #gpuUsed: client.Gauge<string>
  readonly #gpuTotal: client.Gauge<string>

  constructor(registry: client.Registry) {
    const registers = [registry]
    this.#memory = MEMORY.map(m => ({ gauge: new client.Gauge({ name: m.name, help: m.help, registers }), of: m.of }))
    this.#freeRatio = new client.Gauge({ name: 'memtrace_system_memory_free_ratio', help: 'Free memory as a ratio of the total: MemAvailable / MemTotal on Linux, available / total physical memory on Windows, memory_pressure free % on macOS.', registers })
    this.#stalled = new FollowedCounter(
      new client.Counter({ name: 'memtrace_memory_pressure_stalled_seconds_total', help: "Linux memory pressure (PSI): time during which some or all (full) tasks stalled on memory, of the whole system or of the server's cgroup; the kernel's total=, in seconds.", labelNames: ['scope', 'kind'], registers }),
    )
    this.#macLevel = new client.Gauge({ name: 'memtrace_macos_memory_pressure_level', help: "macOS memory pressure level (kern.memorystatus_vm_pressure_level): 1 normal, 2 warn, 4 critical.", registers })
    this.#gpuUsed = new client.Gauge({ name: 'memtrace_gpu_memory_used_bytes', help: 'GPU memory in use, as the driver reports it (nvidia-smi, amdgpu), by GPU index.', labelNames: ['gpu'], registers })
    this.#gpuTotal = new client.Gauge({ name: 'memtrace_gpu_memory_total_bytes', help: 'GPU memory in all, by GPU index.', labelNames: ['gpu'], registers })
    for (const { gauge } of this.#memory) clear(gauge)
    clear(this.#freeRatio)
    clear(this.#macLevel)
  }

  set(s: SystemSample): void {
    for (const { gauge, of } of this.#memory) {
      clear(gauge)
      const v = of(s)
      if (typeof v === 'number' && Number.isFinite(v)) gauge.set(v)
    }
    clear(this.#freeRatio)
    if (s.freePct !== undefined) this.#freeRatio.set(s.freePct / 100)
    const stalled = (scope: string, p: Pressure | undefined) => [
      ...(p?.someTotalUs !== undefined ? [{ labels: { scope, kind: 'some' }, total: p.someTotalUs / 1e6 }] : []),
      ...(p?.fullTotalUs !== undefined ? [{ labels: { scope, kind: 'full' }, total: p.fullTotalUs / 1e6 }] : []),
    ]
    this.#stalled.set([...stalled('system', s.pressure), ...stalled('cgroup', s.cgroup?.pressure)])
    clear(this.#macLevel)
    const level = s.sysctl?.['kern.memorystatus_vm_pressure_level']
    if (s.platform === 'macos' && level !== undefined && MACOS_PRESSURE_LEVELS.has(level)) this.#macLevel.set(level)
    this.#gpuUsed.reset()
    this.#gpuTotal.reset()
    for (const g of s.gpus ?? []) {
      this.#gpuUsed.set({ gpu: String(g.index) }, g.usedBytes)
      this.#gpuTotal.set({ gpu: String(g.index) }, g.totalBytes)
    }
  }
}
