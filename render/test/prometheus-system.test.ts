/**
 * The system series of `render --prometheus`: PSI lines made from the
 * daemon's counters of stalled time, and an older daemon's series under
 * their old names read as the new ones.
 */
import t from 'tap'
import type { Series } from '../prometheus-api.js'
import { psiLines, renamed, SYSTEM_NAMES, type OldName, type SystemName } from '../prometheus-system.js'

const T0 = Date.UTC(2026, 10, 23, 2, 0, 0)
const at = (s: number) => T0 + s * 1000
/** A series with a point every second from 0 to `n`, each `value(s)`. */
const series = (metric: Record<string, string>, n: number, value: (s: number) => number): Series => ({ metric, ts: Array.from({ length: n + 1 }, (_, s) => at(s)), values: Array.from({ length: n + 1 }, (_, s) => value(s)) })

t.test('pressure lines from the stalled-time counters: the share of each window stalled, none where no rate can be taken', async t => {
  // some: 0.5 s stalled a second throughout; full: nothing for 100 s, then 0.2 s a second.
  const lines = psiLines([series({ scope: 'system', kind: 'some' }, 400, s => 1000 + 0.5 * s), series({ scope: 'system', kind: 'full' }, 400, s => 300 + Math.max(0, s - 100) * 0.2), series({ scope: 'cgroup', kind: 'some' }, 400, () => 0)], [])
  t.equal(lines(at(0)), '', 'the first point: no earlier one to take a rate from')
  t.equal(lines(at(400)), 'some avg10=50.00 avg60=50.00 avg300=50.00 total=1200000000\nfull avg10=20.00 avg60=20.00 avg300=20.00 total=360000000\n', "the system's, in the kernel's own layout; the cgroup's are not the host's")
  t.equal(lines(at(130)).split('\n')[1], 'full avg10=20.00 avg60=10.00 avg300=4.62 total=306000000', 'each window as far back as the points go (130 s for the 300 s one)')
  const reset = psiLines([series({ scope: 'system', kind: 'some' }, 20, s => (s < 10 ? 100 + s : s - 10))], [])
  t.equal(reset(at(12)), '', 'a counter that went down (a reboot): no line rather than a negative share')
})

t.test("an older daemon's series, under their old names, read as the new ones", async t => {
  const q = Object.fromEntries(SYSTEM_NAMES.map(n => [n, []])) as unknown as Record<SystemName, Series[]>
  const old = {
    memtrace_system_memory_bytes: [series({ kind: 'total' }, 1, () => 32), series({ kind: 'free_pages' }, 1, () => 4), series({ kind: 'compressor' }, 1, () => 2), series({ kind: 'container_limit' }, 1, () => 16)],
    memtrace_memory_pressure_ratio: [series({ kind: 'some', window: 'avg10' }, 1, () => 0.125), series({ kind: 'some', window: 'avg60' }, 1, () => 0.03), series({ kind: 'some', window: 'avg300' }, 1, () => 0.01)],
    memtrace_gpu_memory_bytes: [series({ gpu: '0', kind: 'used' }, 1, () => 6), series({ gpu: '0', kind: 'total' }, 1, () => 24)],
    ollama_up: [series({}, 1, () => 1)],
    ollama_model_size_bytes: [series({ model: 'm:1b' }, 1, () => 3)],
    ollama_model_vram_bytes: [],
  } as Record<OldName, Series[]>
  renamed(q, old)
  t.same(q.memtrace_system_memory_total_bytes.map(s => [s.metric, s.values[0]]), [[{}, 32]], 'the kind label taken off')
  t.same(q.memtrace_system_memory_free_bytes.map(s => s.values[0]), [4], "macOS's free pages are the free memory")
  t.same(q.memtrace_system_memory_compressed_bytes.map(s => s.values[0]), [2])
  t.same(q.memtrace_cgroup_memory_limit_bytes.map(s => s.values[0]), [16])
  t.same(q.memtrace_gpu_memory_used_bytes.map(s => [s.metric, s.values[0]]), [[{ gpu: '0' }, 6]])
  t.same(q.memtrace_gpu_memory_total_bytes.map(s => s.values[0]), [24])
  t.same(q.memtrace_ollama_model_loaded_bytes.map(s => s.metric), [{ model: 'm:1b' }])
  t.equal(psiLines([], old.memtrace_memory_pressure_ratio)(at(1)), 'some avg10=12.50 avg60=3.00 avg300=1.00 total=0\n', 'the averaged ratios as they were exported')
})
