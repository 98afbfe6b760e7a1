/**
 * The unstructured lines beside Ollama's own: llama.cpp's buffer, layer and
 * device lines (copied into Ollama's log from its runner's stderr), and the
 * kernel's OOM kill.
 */
import { type EventBody, onDevice, Unreadable } from './ollama-lines.js'
import { scaled } from './sizes.js'

const BUFFER_RE = /^(?:([\w.]+): +)?(\S+) +(?:(model|KV|compute|output) +)?buffer size = +(\S+) (MiB|KiB|GiB|B)\b/
const COMPONENT: Record<string, EventBody['component']> = { model: 'weights', KV: 'kv', compute: 'compute' }
const UNIT: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }
const OFFLOADED_RE = /\boffloaded (\d{1,4})\/(\d{1,4}) layers to GPU\b/
const DEVICE_RE = /\busing device (\S+) \((.{0,120})\).* - (\S+) MiB free$/
const MMPROJ_RE = /estimated worst-case memory usage of mmproj is (\S+) MiB/
const KILLED_RE = /\bKilled process (\d{1,10}) \(([^)]{0,64})\)(.*)$/
const KILL_SIZES: Record<string, 'totalVmBytes' | 'anonRssBytes' | 'fileRssBytes' | 'shmemRssBytes'> = { 'total-vm': 'totalVmBytes', 'anon-rss': 'anonRssBytes', 'file-rss': 'fileRssBytes', 'shmem-rss': 'shmemRssBytes' }

/** `1918.35` as printed: digits, at most one point. */
function exact(text: string, unit: number): number | undefined {
  const m = /^(\d{1,12})(?:\.(\d{1,3}))?$/.exec(text)
  return m ? scaled(m[1] as string, m[2] ?? '', unit) : undefined
}

/** The event an unstructured line tells, `Unreadable` when it is one whose figure does not read, undefined otherwise. */
export function otherLine(body: string): EventBody | Unreadable | undefined {
  if (body.includes('buffer size =')) {
    const m = BUFFER_RE.exec(body)
    if (!m) return new Unreadable('a buffer size line memtrace cannot read')
    const [, fn = '', device, type, value, unit] = m as unknown as [string, string | undefined, string, string | undefined, string, string]
    if (type === 'output') return undefined
    const size = exact(value, UNIT[unit] as number)
    if (size === undefined) return new Unreadable(`buffer size "${value.slice(0, 20)} ${unit}" is not a size memtrace can read exactly`)
    const component = type ? COMPONENT[type] : /load_tensors/.test(fn) ? 'weights' : undefined
    if (!component) return undefined
    return { kind: 'allocation', component, device, onDevice: onDevice(device), figures: { sizeBytes: size } }
  }
  const off = OFFLOADED_RE.exec(body)
  if (off) return { kind: 'offloaded', figures: { layersOffloaded: Number(off[1]), layersTotal: Number(off[2]) } }
  if (body.includes('MiB free')) {
    const d = DEVICE_RE.exec(body)
    if (!d) return undefined
    const free = exact(d[3] as string, 2 ** 20)
    if (free === undefined) return new Unreadable(`device free memory "${(d[3] as string).slice(0, 20)} MiB" is not a size memtrace can read exactly`)
    return { kind: 'device-free', device: d[1] as string, figures: { freeBytes: free } }
  }
  const mm = MMPROJ_RE.exec(body)
  if (mm) {
    const size = exact(mm[1] as string, 2 ** 20)
    if (size === undefined) return new Unreadable('the mmproj estimate is not a size memtrace can read exactly')
    return { kind: 'allocation', component: 'projector', figures: { sizeBytes: size } }
  }
  const k = KILLED_RE.exec(body)
  if (k) return kernelKill(body, k)
  return undefined
}

/** `Out of memory: Killed process 12345 (llama-server) total-vm:…kB, anon-rss:…kB, …`, or `Memory cgroup out of memory: …`. */
function kernelKill(body: string, k: RegExpExecArray): EventBody | Unreadable {
  const figures: NonNullable<EventBody['figures']> = {}
  for (const m of (k[3] as string).matchAll(/([a-z-]+):(\d{1,15})kB\b/g)) {
    const name = KILL_SIZES[m[1] as string]
    if (name) figures[name] = Number(m[2]) * 1024
  }
  if (/anon-rss:/.test(k[3] as string) && figures.anonRssBytes === undefined) return new Unreadable('an OOM kill whose anon-rss does not read')
  return { kind: 'kernel-oom-kill', pid: Number(k[1]), process: k[2] as string, cgroup: /Memory cgroup out of memory/i.test(body), figures }
}
