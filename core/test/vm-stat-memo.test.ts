// A block's vm_stat counters are put into its sample from a copy of the last
// block's object when they are the same counters in the same order. Held
// against each block read on its own (no memo: every counter stored as it
// comes), on random runs of blocks: same keys, same order, same values.
import t from 'tap'
import { parseBlock, type BlockLine } from '../parse/system-block.js'
import type { BlockMemo } from '../parse/json-body.js'
import { ProblemLog } from '../parse/problems.js'
import { rng } from './helpers.js'

const LABELS = ['Pages free', 'Pages active', 'Pages inactive', 'Pages speculative', 'Pages wired down', '"Translation faults"', 'File-backed pages', 'Anonymous pages', 'Pages occupied by compressor', 'Pageins', 'Pageouts', 'Swapins', 'Swapouts', 'Pages purgeable', 'Decompressions', 'Compressions', 'Pages throttled', 'Pages zero filled', 'Pages reactivated', 'Pages purged', 'Pages copy-on-write', 'Pages stored in compressor']

function block(r: () => number, order: string[]): string[] {
  const out = [`Mach Virtual Memory Statistics: (page size of ${r() < 0.2 ? 4096 : 16384} bytes)`]
  for (const l of order) out.push(`${l}:${' '.repeat(1 + Math.floor(r() * 20))}${r() < 0.05 ? '9'.repeat(400) : Math.floor(r() * 1e9)}.`)
  // Sometimes the columns form after the counters, or a memory_pressure line between them.
  if (r() < 0.15) out.push('free active inactive speculative wired', '1 2 3 4 5')
  if (r() < 0.15) out.splice(1 + Math.floor(r() * order.length), 0, 'System-wide memory free percentage: 40%')
  return out
}

t.test('counters from the last block’s copy read as counters stored one by one', async t => {
  const wrong: number[] = []
  for (let seed = 0; seed < 200; seed++) {
    const r = rng(seed)
    const memo: BlockMemo = {}
    let order = LABELS.slice(0, 10 + Math.floor(r() * 12))
    for (let b = 0; b < 12; b++) {
      // Mostly the same counters; now and then one more, one fewer, two swapped, or one twice.
      const k = r()
      if (k < 0.1) order = [...order, LABELS[Math.floor(r() * LABELS.length)] as string]
      else if (k < 0.2) order = order.slice(1)
      else if (k < 0.3 && order.length > 2) order = [order[1] as string, order[0] as string, ...order.slice(2)]
      const lines: BlockLine[] = block(r, order).map((text, i) => ({ text, no: i + 2 }))
      const withMemo = parseBlock('s', '2026-01-01T00:00:00Z', 1, lines, new ProblemLog(), memo)
      const alone = parseBlock('s', '2026-01-01T00:00:00Z', 1, lines, new ProblemLog())
      if (JSON.stringify(withMemo) !== JSON.stringify(alone)) wrong.push(seed)
    }
  }
  t.same(wrong, [], 'every seed')
})
