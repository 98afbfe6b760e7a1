/**
 * The daemon's GPU sources other than nvidia-smi, through the real
 * SystemSources: amdgpu's sysfs files under a sysfs root made for the test,
 * rocm-smi, amd-smi and tegrastats as executables on PATH that print what the
 * real programs print (core/test/fixtures/system/rocm-smi, amd-smi and
 * tegrastats). What the daemon writes is read back by the renderer's parser.
 */
import t, { type Test } from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { block, FIXTURES } from '../../core/test/helpers.js'
import type { DaemonConfig } from '../config.js'
import { SystemSources } from '../system-sources.js'

const dir = mkdtempSync(join(tmpdir(), 'memtrace-gpu-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const bin = join(dir, 'bin')
mkdirSync(bin)
const PATH = process.env.PATH
t.teardown(() => {
  process.env.PATH = PATH
})
process.env.PATH = `${bin}:${PATH}`

function card(root: string, name: string, vendor: string, files: Record<string, string>): void {
  const dev = join(root, 'class', 'drm', name, 'device')
  mkdirSync(dev, { recursive: true })
  writeFileSync(join(dev, 'vendor'), `${vendor}\n`)
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dev, f), `${v}\n`)
}

function tool(name: string, script: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`)
  chmodSync(join(bin, name), 0o755)
}

/** A PATH of only `tools` (and the system's own commands, for the stand-ins' `cat`): no rocm-smi of this test's others. */
function onlyTools(t: Test, tools: Record<string, string>): void {
  const own = mkdtempSync(join(dir, 'bin-'))
  for (const [name, script] of Object.entries(tools)) {
    writeFileSync(join(own, name), `#!/bin/sh\n${script}\n`)
    chmodSync(join(own, name), 0o755)
  }
  const before = process.env.PATH
  process.env.PATH = `${own}:/usr/bin:/bin`
  t.teardown(() => {
    process.env.PATH = before
  })
}

/** What the GPU sources said (the Ollama these tests leave unreachable says its own). */
const gpuErrors = (s: { errors: string[] }) => s.errors.filter(e => e.startsWith('amdgpu:'))

function sources(sysRoot: string, procRoot: string, ac: AbortController): SystemSources & { errors: string[] } {
  const cfg: DaemonConfig = {
    dir, intervalMs: 1000, systemIntervalMs: 200, match: /ollama/, ollamaUrl: 'http://127.0.0.1:9', foreground: true, daemonized: false,
    platform: 'linux', procRoot, sysRoot,
  }
  const errors: string[] = []
  return Object.assign(new SystemSources(cfg, ac.signal, { error: (s, m) => void errors.push(`${s}: ${m}`), recovered: () => {} }), { errors })
}

/** One system sample of the sources on this sysfs root (and no /proc): the GPU text and the sources, for their errors. */
async function readOnce(sysRoot: string): Promise<{ s: SystemSources & { errors: string[] }; gpu: string }> {
  const ac = new AbortController()
  const s = sources(sysRoot, join(dir, 'proc-none'), ac)
  const { gpu } = await s.read(undefined)
  ac.abort()
  return { s, gpu }
}

t.test('amdgpu: VRAM and GTT from sysfs, no tool; only AMD cards, not their connectors', async t => {
  const sys = join(dir, 'sys-amd')
  card(sys, 'card0', '0x1002', { mem_info_vram_total: '8573157376', mem_info_vram_used: '6812925952', mem_info_gtt_total: '16777216000', mem_info_gtt_used: '52428800' })
  card(sys, 'card1', '0x10de', { mem_info_vram_total: '1', mem_info_vram_used: '1' })
  mkdirSync(join(sys, 'class', 'drm', 'card0-DP-1'), { recursive: true })
  tool('rocm-smi', 'echo rocm-smi must not run >&2; exit 3')
  tool('amd-smi', 'echo amd-smi must not run >&2; exit 3')
  const { gpu } = await readOnce(sys)
  const { sample, problems } = block(gpu)
  t.same(sample.gpus, [{ index: 0, name: 'card0', usedBytes: 6812925952, totalBytes: 8573157376, source: 'amdgpu', gttUsedBytes: 52428800, gttTotalBytes: 16777216000 }])
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.notOk(gpu.includes('card1/'), 'the NVIDIA card is not read as amdgpu')
})

t.test('an Intel GPU: named in the block, so the chart says once that its memory is not read; no tool run', async t => {
  const sys = join(dir, 'sys-intel')
  card(sys, 'card0', '0x8086', { lmem_total_bytes: '17163091968' })
  tool('rocm-smi', 'echo rocm-smi must not run >&2; exit 3')
  tool('amd-smi', 'echo amd-smi must not run >&2; exit 3')
  const { s, gpu } = await readOnce(sys)
  const { sample, problems } = block(gpu)
  t.same(sample.gpuUnread, [{ index: 0, name: 'Intel, card0', printed: '0x8086' }], 'the Intel card, not read, never counted as zero')
  t.equal(sample.gpus, undefined, 'no GPU figure made up')
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.same(gpuErrors(s), [], 'nothing to say as an error: it is said on the chart')
})

t.test('an AMD card without the memory files: rocm-smi where it is installed', async t => {
  const sys = join(dir, 'sys-old')
  card(sys, 'card0', '0x1002', {})
  tool('rocm-smi', `cat '${join(FIXTURES, 'system', 'rocm-smi', 'showmeminfo-vram.txt')}'`)
  tool('amd-smi', 'echo amd-smi must not run where rocm-smi is installed >&2; exit 3')
  const { s, gpu } = await readOnce(sys)
  const { sample } = block(gpu)
  t.same(sample.gpus, [{ index: 0, name: 'card0', usedBytes: 108814336, totalBytes: 4278190080, source: 'rocm-smi' }])
  t.same(gpuErrors(s), [])
})

t.test('an AMD card without the memory files and no rocm-smi: amd-smi metric --mem-usage, each sample', async t => {
  const sys = join(dir, 'sys-amdsmi')
  card(sys, 'card0', '0x1002', {})
  const calls = join(dir, 'amd-smi-calls')
  const fixture = join(FIXTURES, 'system', 'amd-smi', 'metric-mem-usage.txt')
  // The real layout, and only for the arguments the daemon must give.
  onlyTools(t, { 'amd-smi': `echo "$*" >> '${calls}'\n[ "$*" = 'metric --mem-usage' ] || { echo "amd-smi: unknown arguments $*" >&2; exit 2; }\ncat '${fixture}'\necho` })
  const ac = new AbortController()
  const s = sources(sys, join(dir, 'proc-none'), ac)
  await s.read(undefined)
  const { gpu } = await s.read(undefined)
  ac.abort()
  const { sample, problems } = block(gpu)
  t.same(sample.gpus, [{ index: 0, name: 'card0', usedBytes: 283 * 2 ** 20, totalBytes: 196592 * 2 ** 20, source: 'amd-smi', gttUsedBytes: 20 * 2 ** 20, gttTotalBytes: 1031904 * 2 ** 20 }])
  t.same(sample.sections, ['amd-smi'])
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.same(gpuErrors(s), [])
  t.equal(readFileSync(calls, 'utf8'), 'metric --mem-usage\nmetric --mem-usage\n', 'run once a sample, rocm-smi not asked again')
})

t.test('an AMD card without the memory files, neither tool installed: said once, nothing made up', async t => {
  const sys = join(dir, 'sys-notool')
  card(sys, 'card0', '0x1002', {})
  onlyTools(t, {})
  const ac = new AbortController()
  const s = sources(sys, join(dir, 'proc-none'), ac)
  const first = await s.read(undefined)
  await s.read(undefined)
  ac.abort()
  t.equal(first.gpu, '')
  t.same(gpuErrors(s), ['amdgpu: an AMD GPU without amdgpu memory files, and neither rocm-smi nor amd-smi: its memory is not read'])
})

t.test('a Jetson: tegrastats started once, its last line in each sample, the host unified', async t => {
  const proc = join(dir, 'proc-tegra')
  mkdirSync(join(proc, 'device-tree'), { recursive: true })
  writeFileSync(join(proc, 'device-tree', 'compatible'), 'nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0')
  const line = readFileSync(join(FIXTURES, 'system', 'tegrastats', 'orin-dated.txt'), 'utf8').trim()
  const starts = join(dir, 'tegrastats-starts')
  tool('tegrastats', `echo started >> '${starts}'\nwhile true; do echo '${line}'; sleep 0.05; done`)
  const ac = new AbortController()
  const s = sources(join(dir, 'sys-none'), proc, ac)
  await s.read(undefined)
  await new Promise(r => setTimeout(r, 400))
  const { gpu } = await s.read(undefined)
  ac.abort()
  const { sample, problems } = block(gpu)
  t.same(sample.tegrastats, { ramUsedBytes: 4321 * 2 ** 20, ramTotalBytes: 62801 * 2 ** 20, swapUsedBytes: 19 * 2 ** 20, swapTotalBytes: 31400 * 2 ** 20 })
  t.equal(sample.unifiedMemory, true)
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.equal(readFileSync(starts, 'utf8'), 'started\n', 'one tegrastats for all samples')
})
