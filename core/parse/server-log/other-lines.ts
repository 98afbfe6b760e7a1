/**
 * The unstructured lines beside Ollama's own: llama.cpp's buffer, layer and
 * device lines (copied into Ollama's log from its runner's stderr) in every
 * era's spelling, Metal's working set, CUDA's pinned-memory failures, the
 * oldest Ollama's free text, and the kernel's OOM kill.
 */
import { type EventBody, onDevice, Unreadable } from './ollama-lines.js'
import { scaled } from './sizes.js'

const BUFFER_RE = /^(?:([\w.]+): +)?(\S+) +(?:(model|KV|compute|output) +)?buffer size = +(\S+) (MiB|KiB|GiB|B)\b/
const COMPONENT: Record<string, EventBody['component']> = { model: 'weights', KV: 'kv', compute: 'compute', output: 'output' }
const UNIT: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }
const OFFLOADED_RE = /\boffloaded (\d{1,4})\/(\d{1,4}) layers to GPU\b/
const DEVICE_RE = /\busing device (\S+) \((.{0,120})\).* - (\S+) MiB free$/
const LIST_DEVICE_RE = /^(\S{1,40}): .{0,120} \((\S+) MiB, (\S+) MiB free\)$/
const MMPROJ_RE = /estimated worst-case memory usage of mmproj is +(\S+) MiB/
const OLD_WEIGHTS_RE = /^llm_load_tensors: +(?:mem required += +|VRAM used: +)(\S+) MiB$/
const WORKING_SET_RE = /recommendedMaxWorkingSetSize += +(\S+) MB$/
const PINNED_RE = /failed to allocate (\S+) MiB of pinned memory: out of memory/
const OLD_VRAM_RE = /^(\d{1,9}) MB VRAM available\b/
const KILLED_RE = /\bKilled process (\d{1,10})(?:, UID \d+,)? \(((?:[^()]|\([^()]{0,60}\)){0,64})\)(.*)$/
const KILL_SIZES: Record<string, 'totalVmBytes' | 'anonRssBytes' | 'fileRssBytes' | 'shmemRssBytes'> = { 'total-vm': 'totalVmBytes', 'anon-rss': 'anonRssBytes', 'file-rss': 'fileRssBytes', 'shmem-rss': 'shmemRssBytes' }

/** `1918.35` as printed: digits, at most one point. */
function exact(text: string, unit: number): number | undefined {
  const m = /^(\d{1,12})(?:\.(\d{1,3}))?$/.exec(text)
  return m ? scaled(m[1] as string, m[2] ?? '', unit) : undefined
}

function unreadable(what: string, value: string): Unreadable {
  return new Unreadable(`${what} "${value.slice(0, 20)}" is not a size memtrace can read exactly`)
}

/** The event an unstructured line tells, `Unreadable` when it is one whose figure does not read, undefined otherwise. */
export function otherLine(body: string): EventBody | Unreadable | undefined {
  if (body.includes('buffer size =')) {
    const m = BUFFER_RE.exec(body)
    if (!m) return new Unreadable('a buffer size line memtrace cannot read')
    const [, fn = '', device, type, value, unit] = m as unknown as [string, string | undefined, string, string | undefined, string, string]
    const size = exact(value, UNIT[unit] as number)
    if (size === undefined) return unreadable('buffer size', `${value} ${unit}`)
    const component = type ? COMPONENT[type] : /load_tensors/.test(fn) ? 'weights' : undefined
    if (!component) return undefined
    return { kind: 'allocation', component, device, onDevice: onDevice(device), figures: { sizeBytes: size } }
  }
  if (/buffer size += +[\d.]+\s*$/.test(body)) return new Unreadable('a buffer size without its unit')
  const off = OFFLOADED_RE.exec(body)
  if (off) return { kind: 'offloaded', figures: { layersOffloaded: Number(off[1]), layersTotal: Number(off[2]) } }
  if (body.includes('MiB free')) return deviceFree(body)
  let m = MMPROJ_RE.exec(body)
  if (m) {
    const size = exact(m[1] as string, 2 ** 20)
    return size === undefined ? unreadable('the mmproj estimate', m[1] as string) : { kind: 'estimate', component: 'projector', figures: { sizeBytes: size } }
  }
  if ((m = OLD_WEIGHTS_RE.exec(body))) {
    const size = exact(m[1] as string, 2 ** 20)
    return size === undefined ? unreadable('llm_load_tensors', m[1] as string) : { kind: 'allocation', component: 'weights', figures: { sizeBytes: size } }
  }
  if ((m = WORKING_SET_RE.exec(body))) {
    // ggml-metal prints it in decimal megabytes (÷ 10^6), whatever the unit's name suggests elsewhere.
    const size = exact(m[1] as string, 1e6)
    return size === undefined ? unreadable('recommendedMaxWorkingSetSize', m[1] as string) : { kind: 'working-set', figures: { recommendedBytes: size } }
  }
  if ((m = PINNED_RE.exec(body))) {
    const size = exact(m[1] as string, 2 ** 20)
    return size === undefined ? unreadable('pinned memory', m[1] as string) : { kind: 'oom', text: body.slice(0, 300), figures: { sizeBytes: size } }
  }
  if ((m = OLD_VRAM_RE.exec(body))) return { kind: 'gpu-memory', figures: { availableBytes: Number(m[1]) * 2 ** 20 } } // 0.1.x: MiB, printed as "MB"
  if (/^starting llama runner$/.test(body)) return { kind: 'runner-starting' }
  const k = KILLED_RE.exec(body)
  if (k) return kernelKill(body, k)
  return undefined
}

/** llama.cpp's `using device CUDA0 (…) - 23008 MiB free`, and `--list-devices`' `  MTL0: Apple M5 Max (38338 MiB, 38338 MiB free)`. */
function deviceFree(body: string): EventBody | Unreadable | undefined {
  const d = DEVICE_RE.exec(body)
  if (d) {
    const free = exact(d[3] as string, 2 ** 20)
    return free === undefined ? unreadable('device free memory', d[3] as string) : { kind: 'device-free', device: d[1] as string, figures: { freeBytes: free } }
  }
  const l = LIST_DEVICE_RE.exec(body)
  if (!l) return undefined
  const total = exact(l[2] as string, 2 ** 20)
  const free = exact(l[3] as string, 2 ** 20)
  if (total === undefined || free === undefined) return unreadable('device memory', `${l[2]} / ${l[3]}`)
  return { kind: 'device-free', device: l[1] as string, figures: { totalBytes: total, freeBytes: free } }
}

/** `Out of memory: Killed process 12345 (llama-server) total-vm:…kB, anon-rss:…kB, …`, `Memory cgroup out of memory: …`, and older kernels' shapes. */
function kernelKill(body: string, k: RegExpExecArray): EventBody | Unreadable {
  const figures: NonNullable<EventBody['figures']> = {}
  for (const m of (k[3] as string).matchAll(/([a-z-]+):(\d{1,15})kB\b/g)) {
    const name = KILL_SIZES[m[1] as string]
    if (name) figures[name] = Number(m[2]) * 1024
  }
  if (/anon-rss:/.test(k[3] as string) && figures.anonRssBytes === undefined) return new Unreadable('an OOM kill whose anon-rss does not read')
  const e: EventBody = { kind: 'kernel-oom-kill', pid: Number(k[1]), process: k[2] as string, figures }
  // Only the line itself says whether the kill was inside a cgroup.
  if (/Memory cgroup out of memory/i.test(body)) e.cgroup = true
  else if (/Out of memory/i.test(body)) e.cgroup = false
  return e
}
