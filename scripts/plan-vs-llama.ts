/**
 * `node dist/scripts/plan-vs-llama.js [CTX×NP …]`: what `memtrace plan`
 * predicts for the stand-in's small model against what llama.cpp really adds
 * to a process's RSS when it creates a context of CTX × NP cells with NP
 * sequences and generates 8 tokens in each (the stand-in runner's settings:
 * 2 threads, a batch of 64, flash attention off). Each measurement runs in a
 * fresh process. The table is the one in docs/bench.md.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { computeBytes, kvBytesPerSlot } from '../core/plan.js'
import { readFacts } from '../core/model-files.js'
import { tinyModelGguf } from '../standin/tiny-model.js'

const MIB = 2 ** 20

/** In a child: RSS after the context and 8 tokens per sequence, less RSS after the model alone. */
async function measure(modelPath: string, ctx: number, np: number): Promise<void> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp')
  const llama = await getLlama({ build: 'never', gpu: false, progressLogs: false, logLevel: LlamaLogLevel.error })
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 })
  const before = process.memoryUsage().rss
  const context = await model.createContext({ contextSize: ctx, sequences: np, threads: 2, batchSize: 64, flashAttention: false })
  const prompt = model.tokenize('Write a function that validates an email address.')
  await Promise.all(
    Array.from({ length: np }, async () => {
      let n = 0
      for await (const _ of context.getSequence().evaluate(prompt, { temperature: 0 })) if (++n >= 8) break
    }),
  )
  process.stdout.write(`${process.memoryUsage().rss - before}\n`)
}

async function main(args: string[]): Promise<void> {
  if (args[0] === '--measure') return measure(args[1] as string, Number(args[2]), Number(args[3]))
  const shapes = (args.length ? args : ['8192×1', '8192×4']).map(a => a.split(/[×x]/).map(Number) as [number, number])
  const dir = mkdtempSync(join(tmpdir(), 'memtrace-plan-vs-llama-'))
  try {
    const file = join(dir, 'tiny.gguf')
    writeFileSync(file, tinyModelGguf())
    const facts = await readFacts(file)
    if (typeof facts === 'string') throw new Error(facts)
    const pct = (p: number, m: number) => `${p >= m ? '+' : '−'}${Math.round((Math.abs(p - m) / m) * 100)}%`
    process.stdout.write('| context × slots | measured | plan, flash attention off | error | plan, flash attention on | error |\n|---|---:|---:|---:|---:|---:|\n')
    for (const [ctx, np] of shapes) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--measure', file, String(ctx), String(np)], { encoding: 'utf8' })
      const measured = Number(r.stdout.trim())
      if (r.status !== 0 || !(measured > 0)) throw new Error(`measuring ${ctx} × ${np} failed: ${r.stderr.trim()}`)
      const kv = kvBytesPerSlot(facts, ctx, 'f16') * np
      const off = kv + computeBytes(facts, ctx, np, false)
      const on = kv + computeBytes(facts, ctx, np, true)
      const f = (b: number) => `${Math.round(b / MIB)} MiB`
      process.stdout.write(`| ${ctx} × ${np} | ${f(measured)} | ${f(off)} | ${pct(off, measured)} | ${f(on)} | ${pct(on, measured)} |\n`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main(process.argv.slice(2)).catch(e => {
  process.stderr.write(`${(e as Error).message}\n`)
  process.exitCode = 1
})
