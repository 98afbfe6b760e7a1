import t from 'tap'
import { block } from './helpers.js'

const MEMINFO = `MemTotal:       65536000 kB
MemFree:         1024000 kB
MemAvailable:   16384000 kB
Buffers:          204800 kB
Cached:         12288000 kB
SwapCached:            0 kB
SwapTotal:       8388604 kB
SwapFree:        7340028 kB
HugePages_Total:       0
Hugepagesize:       2048 kB`

t.test('/proc/meminfo: used, available, free %, swap', async t => {
  const { sample, problems } = block(MEMINFO)
  t.equal(problems.total, 0)
  t.equal(sample.platform, 'linux')
  t.equal(sample.memTotalBytes, 65536000 * 1024)
  t.equal(sample.availableBytes, 16384000 * 1024)
  t.equal(sample.usedBytes, (65536000 - 16384000) * 1024)
  t.equal(sample.freePct, 25)
  t.equal(sample.swapUsedBytes, (8388604 - 7340028) * 1024)
})

t.test('PSI, /proc/vmstat swap counters', async t => {
  const { sample, problems } = block(
    'some avg10=1.25 avg60=0.50 avg300=0.10 total=123456\nfull avg10=0.75 avg60=0.25 avg300=0.05 total=65432\npswpin 310\npswpout 4242\n',
  )
  t.equal(problems.total, 0)
  t.same(sample.pressure, { someAvg10: 1.25, someAvg60: 0.5, someAvg300: 0.1, someTotalUs: 123456, fullAvg10: 0.75, fullAvg60: 0.25, fullAvg300: 0.05, fullTotalUs: 65432 })
  t.equal(sample.swapInPages, 310)
  t.equal(sample.swapOutPages, 4242)
})

t.test('cgroup v2 (grep -H style) with its own pressure', async t => {
  const { sample, problems } = block(
    'cgroup: /system.slice/docker-5f2c.scope\n/sys/fs/cgroup/system.slice/docker-5f2c.scope/memory.current:4294967296\n' +
      '/sys/fs/cgroup/system.slice/docker-5f2c.scope/memory.max:max\n' +
      '/sys/fs/cgroup/system.slice/docker-5f2c.scope/memory.pressure:some avg10=5.00 avg60=1.00 avg300=0.20 total=999\n',
  )
  t.equal(problems.total, 0)
  t.equal(sample.cgroup?.usageBytes, 4294967296)
  t.equal(sample.cgroup?.limitBytes, null)
  t.equal(sample.cgroup?.pressure?.someAvg10, 5)
  t.equal(sample.pressure, undefined, 'not mistaken for the host PSI')
})

t.test('cgroup v1 usage and an unlimited limit', async t => {
  const a = block('memory.usage_in_bytes: 1073741824\nmemory.limit_in_bytes: 9223372036854771712').sample
  t.equal(a.cgroup?.usageBytes, 1073741824)
  t.equal(a.cgroup?.limitBytes, null)
  const b = block('memory.limit_in_bytes: 8589934592').sample
  t.equal(b.cgroup?.limitBytes, 8589934592)
})

t.test('nvidia-smi --format=csv, with units and with nounits', async t => {
  const a = block('index, name, memory.used [MiB], memory.total [MiB]\n0, NVIDIA H100 80GB HBM3, 1234 MiB, 81559 MiB\n1, NVIDIA H100 80GB HBM3, 0 MiB, 81559 MiB').sample
  t.same(a.gpus, [
    { index: 0, name: 'NVIDIA H100 80GB HBM3', usedBytes: 1234 * 1024 ** 2, totalBytes: 81559 * 1024 ** 2 },
    { index: 1, name: 'NVIDIA H100 80GB HBM3', usedBytes: 0, totalBytes: 81559 * 1024 ** 2 },
  ])
  const b = block('memory.used [MiB], memory.total [MiB]\n500, 24564').sample
  t.same(b.gpus, [{ index: 0, usedBytes: 500 * 1024 ** 2, totalBytes: 24564 * 1024 ** 2 }])
})

t.test('memtrace event lines: marker, runner mapping, missed ticks; a damaged one', async t => {
  const { events, problems } = block(
    'memtrace marker {"ts":"2026-02-25T14:03:10.500Z","text":"switch to llama3.3 <70b> & \\"quotes\\""}\n' +
      'memtrace runner {"pid":4412,"model":"qwen2.5-coder:7b","blob":"sha256-abc"}\n' +
      'memtrace missed {"source":"process","ticks":3}\n' +
      'memtrace marker {"ts":',
  )
  t.equal(events.length, 3)
  t.equal(events[0]!.text, 'switch to llama3.3 <70b> & "quotes"')
  t.equal(events[0]!.ts, '2026-02-25T14:03:10.500Z')
  t.equal(events[1]!.pid, 4412)
  t.equal(events[1]!.ts, '2026-02-25T14:03:12Z', 'block time when the event has none')
  t.equal(events[2]!.ticks, 3)
  t.equal(problems.count('bad-value'), 1)
})

t.test('unknown text inside a block is counted, not fatal', async t => {
  const { sample, problems } = block(`${MEMINFO}\nsomething odd happened here\n`)
  t.equal(sample.memTotalBytes, 65536000 * 1024)
  t.equal(problems.count('unrecognised-line'), 1)
})

// `cat /proc/swaps` as the kernel prints it (tabs between columns; a host with
// no swap prints the header alone).
const SWAPS_HEADER = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority'

t.test('/proc/swaps: the header is a section, not damage; rows give the totals', async t => {
  const none = block(`${MEMINFO.replace(/Swap(Total|Free): +\d+/g, 'Swap$1:       0')}\n${SWAPS_HEADER}`)
  t.equal(none.problems.total, 0, 'the header alone, on a host with no swap')
  t.ok(none.sample.sections.includes('swaps'))
  t.equal(none.sample.swapTotalBytes, 0)
  const two = block(`${SWAPS_HEADER}\n/dev/sda2                               partition\t8388604\t\t1048576\t\t-2\n/swapfile                               file\t\t2097148\t\t0\t\t-3`)
  t.equal(two.problems.total, 0)
  t.equal(two.sample.swapTotalBytes, (8388604 + 2097148) * 1024, 'sizes in KiB, summed')
  t.equal(two.sample.swapUsedBytes, 1048576 * 1024)
  const both = block(`${MEMINFO}\n${SWAPS_HEADER}\n/dev/sda2 partition 100 50 -2`)
  t.equal(both.sample.swapUsedBytes, (8388604 - 7340028) * 1024, "meminfo's figures win over /proc/swaps")
  const bad = block(`${SWAPS_HEADER}\n/dev/sda2 partition lots 0 -2`)
  t.equal(bad.problems.total, 1, 'a damaged row is still reported')
})

t.test("a pasted dmesg or journalctl -k OOM kill is the daemon's oom-kill event, read the same way", async t => {
  const { events, problems } = block(
    [
      '[2858609.598568] Memory cgroup out of memory: Killed process 4412 (llama-server) total-vm:41234567kB, anon-rss:31981234kB, file-rss:1024kB, shmem-rss:0kB, UID:0 pgtables:62000kB oom_score_adj:0',
      'May 14 09:12:03 gpu-box kernel: Out of memory: Killed process 4413 (ollama_llama_se) total-vm:2000kB, anon-rss:1000kB, file-rss:0kB, shmem-rss:0kB',
    ].join('\n'),
  )
  t.equal(problems.total, 0)
  t.match(events, [
    { kind: 'oom-kill', pid: 4412, text: 'llama-server', bytes: 31981234 * 1024, source: 'kernel', line: 2 },
    { kind: 'oom-kill', pid: 4413, text: 'ollama_llama_se', bytes: 1000 * 1024, source: 'kernel', line: 3 },
  ])
})
