/**
 * Writers for sample traces: each prints a source exactly as the real command
 * prints it (layouts in docs/format.md and the Ollama notes), so the samples
 * exercise the same parsers users' traces do.
 */

import { humanBytes, type Loaded, ollamaPs } from '../standin/table.js'

export { humanBytes, type Loaded, ollamaPs }

export const GIB = 1024 ** 3
const pad = (s: string | number, n: number) => String(s).padEnd(n)
const rpad = (s: string | number, n: number) => String(s).padStart(n)

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function procRow(ms: number, pid: number, ppid: number, comm: string, rssKb: number, vszKb: number, command: string): string {
  return `${iso(ms)}\t${pid}\t${ppid}\t${comm}\t${Math.round(rssKb)}\t${Math.round(vszKb)}\t${command}\n`
}

export interface MacMem {
  totalBytes: number
  pageSize: number
  freeBytes: number
  activeBytes: number
  inactiveBytes: number
  speculativeBytes: number
  wiredBytes: number
  compressorBytes: number
  storedInCompressorBytes: number
  pageins: number
  pageouts: number
  swapins: number
  swapouts: number
  swapTotalBytes: number
  swapUsedBytes: number
  freePct: number
}

export function vmStat(m: MacMem): string {
  const p = (b: number) => Math.round(b / m.pageSize)
  const rows: [string, number][] = [
    ['Pages free', p(m.freeBytes)],
    ['Pages active', p(m.activeBytes)],
    ['Pages inactive', p(m.inactiveBytes)],
    ['Pages speculative', p(m.speculativeBytes)],
    ['Pages throttled', 0],
    ['Pages wired down', p(m.wiredBytes)],
    ['Pages purgeable', 2114],
    ['"Translation faults"', 912345678],
    ['Pages copy-on-write', 12345678],
    ['Pages zero filled', 456789012],
    ['Pages reactivated', 2345678],
    ['Pages purged', 345678],
    ['File-backed pages', p(m.inactiveBytes * 0.6)],
    ['Anonymous pages', p(m.activeBytes + m.inactiveBytes * 0.4)],
    ['Pages stored in compressor', p(m.storedInCompressorBytes)],
    ['Pages occupied by compressor', p(m.compressorBytes)],
    ['Decompressions', 1234567 + m.swapins * 3],
    ['Compressions', 2345678 + m.pageouts * 4],
    ['Pageins', m.pageins],
    ['Pageouts', m.pageouts],
    ['Swapins', m.swapins],
    ['Swapouts', m.swapouts],
  ]
  return (
    `Mach Virtual Memory Statistics: (page size of ${m.pageSize} bytes)\n` +
    rows.map(([k, v]) => `${pad(`${k}:`, 30)}${rpad(v, 16)}.`).join('\n') +
    '\n'
  )
}

export function memoryPressure(m: MacMem): string {
  const p = (b: number) => Math.round(b / m.pageSize)
  return [
    `The system has ${m.totalBytes} (${p(m.totalBytes)} pages with a page size of ${m.pageSize}).`,
    '',
    'Stats: ',
    `Pages free: ${p(m.freeBytes)} `,
    'Pages purgeable: 2114 ',
    'Pages purged: 345678 ',
    '',
    'Swap I/O:',
    `Swapins: ${m.swapins} `,
    `Swapouts: ${m.swapouts} `,
    '',
    'Page Q counts:',
    `Pages active: ${p(m.activeBytes)} `,
    `Pages inactive: ${p(m.inactiveBytes)} `,
    `Pages speculative: ${p(m.speculativeBytes)} `,
    'Pages throttled: 0 ',
    `Pages wired down: ${p(m.wiredBytes)} `,
    '',
    'Compressor Stats:',
    `Pages used by compressor: ${p(m.compressorBytes)} `,
    `Pages decompressed: ${1234567 + m.swapins * 3} `,
    `Pages compressed: ${2345678 + m.pageouts * 4} `,
    '',
    'File I/O:',
    `Pageins: ${m.pageins} `,
    `Pageouts: ${m.pageouts} `,
    '',
    `System-wide memory free percentage: ${Math.round(m.freePct)}%`,
    '',
  ].join('\n')
}

export function swapUsage(m: MacMem, decimalComma = false): string {
  const mb = (b: number) => {
    const s = (b / 1024 ** 2).toFixed(2)
    return decimalComma ? s.replace('.', ',') : s
  }
  return `vm.swapusage: total = ${mb(m.swapTotalBytes)}M  used = ${mb(m.swapUsedBytes)}M  free = ${mb(m.swapTotalBytes - m.swapUsedBytes)}M  (encrypted)\n`
}

/** `/api/ps` body; pretty as `jq .` prints it, or compact. */
export function apiPs(models: Loaded[], pretty: boolean): string {
  const body = {
    models: models.map(m => ({
      name: m.name,
      model: m.name,
      size: m.size,
      digest: m.digest,
      details: { parent_model: '', format: 'gguf', family: m.family, families: [m.family], parameter_size: m.parameterSize, quantization_level: m.quant },
      expires_at: m.expiresAt,
      size_vram: m.sizeVram,
      context_length: m.context,
    })),
  }
  return pretty ? `${JSON.stringify(body, null, 2)}\n` : `${JSON.stringify(body)}\n`
}

export function meminfo(f: { total: number; free: number; available: number; cached: number; swapTotal: number; swapFree: number; anon: number }): string {
  const kb = (b: number) => Math.round(b / 1024)
  const rows: [string, number][] = [
    ['MemTotal', f.total], ['MemFree', f.free], ['MemAvailable', f.available], ['Buffers', 512 * 1024 ** 2],
    ['Cached', f.cached], ['SwapCached', 0], ['Active', f.anon * 0.7], ['Inactive', f.cached * 0.8],
    ['AnonPages', f.anon], ['Shmem', 300 * 1024 ** 2], ['SwapTotal', f.swapTotal], ['SwapFree', f.swapFree],
  ]
  return rows.map(([k, v]) => `${pad(`${k}:`, 16)}${rpad(kb(v), 8)} kB`).join('\n') + '\nHugePages_Total:       0\n'
}

export function psi(some: number[], full: number[], totals: [number, number], prefix = ''): string {
  const f = (n: number) => n.toFixed(2)
  return `${prefix}some avg10=${f(some[0] ?? 0)} avg60=${f(some[1] ?? 0)} avg300=${f(some[2] ?? 0)} total=${totals[0]}\n${prefix}full avg10=${f(full[0] ?? 0)} avg60=${f(full[1] ?? 0)} avg300=${f(full[2] ?? 0)} total=${totals[1]}\n`
}

export function nvidiaSmi(gpus: { name: string; used: number; total: number }[]): string {
  const mib = (b: number) => Math.round(b / 1024 ** 2)
  return 'index, name, memory.used [MiB], memory.total [MiB]\n' + gpus.map((g, i) => `${i}, ${g.name}, ${mib(g.used)} MiB, ${mib(g.total)} MiB`).join('\n') + '\n'
}

/** A small deterministic generator, so samples regenerate byte for byte. */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
