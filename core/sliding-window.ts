/**
 * Which layers of a model attend through a sliding window, as the llama.cpp
 * that node-llama-cpp 3.22.1 bundles decides it: each architecture's
 * `load_arch_hparams` (src/models/<arch>.cpp) sets a period with
 * `load_swa_pattern(ml, n)`, which `<arch>.attention.sliding_window_pattern`
 * overrides (src/llama-model.cpp), and `llama_hparams::set_swa_pattern`
 * (src/llama-hparams.cpp) marks the layers. Architectures not listed here
 * attend to the whole context in every layer there, whatever window their
 * header names.
 */

export interface SlidingRule {
  /** The period n: layer i slides when i % n < n − 1 (the last of each n is global); n = 0 makes every layer slide. */
  period: number
  /** `dense_first`: layer i slides when i % n ≠ 0 (the first of each n is global). */
  denseFirst?: boolean
  /** The window when the header names none; without one, the header's `sliding_window` must say it. */
  defaultWindow?: number
  /** The architecture slides only at this block count (exaone4: its 32B). */
  onlyWithBlocks?: number
}

/** By GGUF architecture name, from src/models/<arch>.cpp. */
export const SLIDING: Record<string, SlidingRule> = {
  gemma2: { period: 2, defaultWindow: 4096 },
  gemma3: { period: 6 },
  gemma3n: { period: 5 },
  'gemma-embedding': { period: 6 },
  cohere2: { period: 4 },
  cohere2moe: { period: 4, denseFirst: true },
  'gpt-oss': { period: 2 },
  olmo2: { period: 4 },
  exaone4: { period: 4, defaultWindow: 4096, onlyWithBlocks: 64 },
  llama4: { period: 4, defaultWindow: 8192 },
}

/** How many of `blocks` layers slide with period n (llama_hparams::set_swa_pattern). */
export function slidingLayerCount(blocks: number, n: number, denseFirst: boolean): number {
  let count = 0
  for (let i = 0; i < blocks; i++) if (n === 0 || (denseFirst ? i % n !== 0 : i % n < n - 1)) count++
  return count
}
