/**
 * `make bench`: a 24-hour trace at the daemon's rates (86,400 process samples
 * × 6 processes, 17,280 system blocks), then `memtrace render` on it against
 * a bare line-by-line Node read of the same files, in one run. Reports the
 * time ratio, the renderer's peak RSS and the SVG size against the targets.
 * Then the same for 10,000 processes coming and going over four hours
 * (many-processes.ts), with targets in seconds and MB.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as f from '../../scripts/sample-format.js'
import { generateMany, MANY, writeStreamed as write } from './many-processes.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..', '..', '..')
const OUT = join(ROOT, 'out', 'bench')
const DAY = 86_400
const T0 = Date.UTC(2026, 1, 25, 0, 0, 0)

async function generate(proc: string, sys: string) {
  const res = '/Applications/Ollama.app/Contents/Resources'
  const cmds = [
    `${res}/ollama serve`,
    '/Applications/Ollama.app/Contents/MacOS/Ollama',
    ...[1, 2, 3, 4].map(i => `${res}/llama-server --model /Users/u/.ollama/models/blobs/sha256-${String(i).repeat(64)} --port ${50000 + i} --host 127.0.0.1 --no-webui --offline -c 8192 -np 1`),
  ]
  const r = f.rng(42)
  await write(proc, async push => {
    await push('ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n')
    for (let s = 0; s < DAY; s++) {
      const ts = f.iso(T0 + s * 1000)
      for (let i = 0; i < cmds.length; i++) {
        const rss = Math.round((i < 2 ? 60_000 : 3_000_000 * i) + r() * 50_000 + (s === 50_000 && i === 3 ? 20_000_000 : 0))
        await push(`${ts}\t${800 + i}\t${i === 0 ? 1 : 800}\t${i === 1 ? 'Ollama' : 'ollama'}\t${rss}\t440401920\t${cmds[i]}\n`)
      }
    }
  })
  await write(sys, async push => {
    for (let s = 0; s < DAY; s += 5) {
      const used = 20 + 8 * Math.sin(s / 3000)
      const m: f.MacMem = {
        totalBytes: 32 * f.GIB, pageSize: 16384, freeBytes: (32 - used) * f.GIB * 0.5, activeBytes: 8 * f.GIB, inactiveBytes: 4 * f.GIB, speculativeBytes: 0.2 * f.GIB,
        wiredBytes: used * 0.5 * f.GIB, compressorBytes: f.GIB, storedInCompressorBytes: 2.5 * f.GIB, pageins: s, pageouts: s >> 3, swapins: s >> 5, swapouts: s >> 4,
        swapTotalBytes: 4 * f.GIB, swapUsedBytes: f.GIB, freePct: 100 - used * 3,
      }
      const models = [1, 2, 3, 4].map(i => ({ name: `model${i}:latest`, digest: String(i).repeat(64), size: 3e9 * i, sizeVram: 3e9 * i, context: 8192, family: 'llama', parameterSize: '8B', quant: 'Q4_K_M', expiresAt: '2026-02-25T14:43:07.512345-08:00', until: '4 minutes from now' }))
      await push(`===== ${f.iso(T0 + s * 1000)} =====\n${f.vmStat(m)}${f.memoryPressure(m)}${f.swapUsage(m)}${f.ollamaPs(models)}${f.apiPs(models, true)}\n`)
    }
  })
}

function run(args: string[]): { ms: number; maxRssKb: number; stdout: string } {
  const start = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`)
  const m = /MEMTRACE_BENCH_MAXRSS_KB (\d+)/.exec(r.stderr)
  return { ms, maxRssKb: m ? Number(m[1]) : NaN, stdout: r.stdout }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/**
 * Bare read and render of one pair of traces, alternating, five times each:
 * the least time of each, their medians and the highest peak. On a shared
 * machine (a virtual one, whose host lends its cores to others) noise only
 * ever adds time, and it came and went within seconds here (the same bare
 * read took 0.5 s and 1.1 s in one minute): the least of five is the cost
 * of the work itself, and the targets are read from it. The medians are
 * printed beside it.
 */
function measure(proc: string, sys: string, svg: string): { bare: number; render: number; bareMedian: number; renderMedian: number; peakMb: number } {
  const rss = ['--import', join(HERE, 'report-rss.js')]
  const bare: number[] = []
  const render: number[] = []
  let peak = 0
  for (let i = 0; i < 5; i++) {
    bare.push(run([...rss, join(HERE, 'bare-read.js'), proc, sys]).ms)
    const r = run([...rss, join(ROOT, 'dist', 'bin', 'memtrace.js'), 'render', proc, sys, svg, '--tz', 'UTC', '-q'])
    render.push(r.ms)
    peak = Math.max(peak, r.maxRssKb)
  }
  return { bare: Math.min(...bare), render: Math.min(...render), bareMedian: median(bare), renderMedian: median(render), peakMb: peak / 1024 }
}

const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED')

/**
 * The 10,000-process target is 2 s, and seconds say as much of the host as
 * of the code: the bare read of that trace took 0.35 s on one day and 0.67 s
 * on another, on the same machine. So it is held as a ratio to the bare read
 * of the same run, as the day-long target is: 2 s on a host as slow as the
 * slowest seen (least of five bare reads, 0.67 s) is a render of at most
 * 2 ÷ 0.67 = 2.99 times the bare read. The seconds on this host are printed
 * beside it.
 */
const SLOWEST_BARE_S = 0.67
const MANY_RATIO = 2 / SLOWEST_BARE_S
const mb = (p: string) => (statSync(p).size / 1e6).toFixed(1)

async function main() {
  mkdirSync(OUT, { recursive: true })
  const proc = join(OUT, 'ollama-process-memtrace-20260225-000000.tsv')
  const sys = join(OUT, 'system-memtrace-20260225-000000.log')
  const svg = join(OUT, 'day.svg')
  process.stdout.write('generating a 24-hour trace … ')
  await generate(proc, sys)
  process.stdout.write(`process trace ${mb(proc)} MB, system trace ${mb(sys)} MB\n`)
  const day = measure(proc, sys, svg)
  const ratio = day.render / day.bare
  const size = statSync(svg).size
  console.log(`bare read (least of 5):    ${day.bare.toFixed(0)} ms  (median ${day.bareMedian.toFixed(0)} ms)`)
  console.log(`memtrace render (least):   ${day.render.toFixed(0)} ms  (median ${day.renderMedian.toFixed(0)} ms)`)
  console.log(`ratio render / bare read:  ${ratio.toFixed(2)}  (target ≤ 1.5)    ${verdict(ratio <= 1.5)}  (of the medians: ${(day.renderMedian / day.bareMedian).toFixed(2)})`)
  console.log(`render peak RSS:           ${day.peakMb.toFixed(0)} MB  (target ≤ 100 MB)  ${verdict(day.peakMb <= 100)}`)
  console.log(`SVG size:                  ${(size / 1e6).toFixed(2)} MB  (target < 1 MB)   ${verdict(size < 1e6)}`)

  const manyDir = join(OUT, 'many')
  mkdirSync(manyDir, { recursive: true })
  const mproc = join(manyDir, 'ollama-process-memtrace-20260302-000000.tsv')
  const msys = join(manyDir, 'system-memtrace-20260302-000000.log')
  process.stdout.write(`generating ${MANY.toLocaleString('en')} processes over 4 hours … `)
  await generateMany(mproc, msys)
  process.stdout.write(`process trace ${mb(mproc)} MB, system trace ${mb(msys)} MB\n`)
  const many = measure(mproc, msys, join(manyDir, 'many.svg'))
  console.log(`bare read (least of 5):    ${many.bare.toFixed(0)} ms  (median ${many.bareMedian.toFixed(0)} ms)`)
  console.log(`memtrace render (least):   ${many.render.toFixed(0)} ms  (median ${many.renderMedian.toFixed(0)} ms)`)
  const manyRatio = many.render / many.bare
  console.log(`ratio render / bare read:  ${manyRatio.toFixed(2)}  (target ≤ ${MANY_RATIO.toFixed(2)})    ${verdict(manyRatio <= MANY_RATIO)}  (of the medians: ${(many.renderMedian / many.bareMedian).toFixed(2)})`)
  console.log(`render time (least of 5):  ${(many.render / 1000).toFixed(2)} s  (≤ 2 s where the bare read takes ${SLOWEST_BARE_S} s: ${(manyRatio * SLOWEST_BARE_S).toFixed(2)} s)  ${verdict(many.render <= 2000)} on this host`)
  console.log(`render peak RSS:           ${many.peakMb.toFixed(0)} MB  (target ≤ 150 MB)  ${verdict(many.peakMb <= 150)}`)
}

await main()
