/**
 * `node dist/scripts/plan-vs-llama.js [--write docs/bench.md]`: what `memtrace
 * plan` predicts for the KV cache and compute buffer of the stand-in's
 * models against what llama.cpp itself says it allocated (its `KV buffer
 * size` and `compute buffer size` lines), at the nine shapes of the plan's
 * check, flash attention off and on. Prints the Markdown table; with
 * `--write FILE`, sets it in FILE between its `<!-- plan-vs-llama -->` and
 * `<!-- /plan-vs-llama -->` lines. standin/test/plan-vs-llama.test.ts holds
 * the plan to 10 % at every row.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readFacts } from '../core/model-files.js'
import { type BufferLines, checkPlan, measureBuffers, PLAN_SHAPES, type PlanCheck } from '../standin/buffer-lines.js'
import { PLAN_MODELS } from '../standin/buffer-lines.js'
import { tinyModelGguf } from '../standin/tiny-model.js'

const MIB = 2 ** 20

/** Writes each model, reads its facts as `plan` does, and sets the plan against llama.cpp at every shape. */
async function checks(models: [string, Buffer][], dir: string): Promise<PlanCheck[][]> {
  const files = models.map(([name, gguf]) => {
    const file = join(dir, `${name}.gguf`)
    writeFileSync(file, gguf)
    return file
  })
  const measured = await measureBuffers(files, PLAN_SHAPES)
  if (!measured) throw new Error('node-llama-cpp is not installed')
  return Promise.all(
    files.map(async (file, i) => {
      const facts = await readFacts(file)
      if (typeof facts === 'string') throw new Error(facts)
      return checkPlan(facts, measured[i] as BufferLines[])
    }),
  )
}

function table(name: string, checks: PlanCheck[]): string {
  const f = (b: number) => (b / MIB).toFixed(2)
  const pct = (e: number) => {
    const text = (Math.abs(e) * 100).toFixed(1)
    return text === '0.0' ? '0.0%' : `${e > 0 ? '+' : '−'}${text}%`
  }
  const lines = [
    `| ${name}: context × slots | flash attention | llama.cpp KV | plan KV | llama.cpp compute | plan compute | error on KV + compute |`,
    '|---|---|---:|---:|---:|---:|---:|',
    ...checks.map(c => `| ${c.ctx} × ${c.np} | ${c.flashAttention ? 'on' : 'off'} | ${f(c.kvBytes)} | ${f(c.planKvBytes)} | ${f(c.computeBytes)} | ${f(c.planComputeBytes)} | ${pct(c.error)} |`),
  ]
  return lines.join('\n')
}

async function main(args: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'memtrace-plan-vs-llama-'))
  try {
    const models = PLAN_MODELS.map(m => [m.name, tinyModelGguf(m.shape)] as [string, Buffer])
    const all = await checks(models, dir)
    const text = `${all.map((c, i) => table((PLAN_MODELS[i] as { title: string }).title, c)).join('\n\n')}\n`
    const at = args.indexOf('--write')
    if (at < 0) {
      process.stdout.write(text)
      return
    }
    const file = args[at + 1] as string
    const doc = readFileSync(file, 'utf8')
    const m = /(<!-- plan-vs-llama -->\n)[\s\S]*?(<!-- \/plan-vs-llama -->)/.exec(doc)
    if (!m) throw new Error(`${file} has no <!-- plan-vs-llama --> … <!-- /plan-vs-llama --> lines`)
    writeFileSync(file, doc.replace(m[0], `${m[1]}${text}${m[2]}`))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main(process.argv.slice(2)).catch(e => {
  process.stderr.write(`${(e as Error).message}\n`)
  process.exitCode = 1
})
