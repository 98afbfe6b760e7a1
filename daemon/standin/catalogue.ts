/**
 * Models the stand-in can "pull": real names, sizes and details as the Ollama
 * library lists them, so /api/ps and `ollama ps` look as they would.
 */
export interface CatalogueModel {
  name: string
  sizeBytes: number
  family: string
  parameterSize: string
  quantization: string
  /** KV cache bytes per token of context (f16; notes: KV-cache formulas). */
  kvBytesPerToken: number
  /** The context the model was trained for; num_ctx is clamped to it. */
  trainedContext: number
}

export const CATALOGUE: CatalogueModel[] = [
  { name: 'llama3.2:3b', sizeBytes: 2_019_393_189, family: 'llama', parameterSize: '3.2B', quantization: 'Q4_K_M', kvBytesPerToken: 114_688, trainedContext: 131_072 },
  { name: 'qwen2.5-coder:7b', sizeBytes: 4_683_087_332, family: 'qwen2', parameterSize: '7.6B', quantization: 'Q4_K_M', kvBytesPerToken: 57_344, trainedContext: 32_768 },
  { name: 'qwen3:8b', sizeBytes: 5_225_387_923, family: 'qwen3', parameterSize: '8.2B', quantization: 'Q4_K_M', kvBytesPerToken: 147_456, trainedContext: 40_960 },
  { name: 'phi4:14b', sizeBytes: 9_053_116_391, family: 'phi3', parameterSize: '14.7B', quantization: 'Q4_K_M', kvBytesPerToken: 204_800, trainedContext: 16_384 },
  { name: 'qwen3-coder:30b', sizeBytes: 18_556_699_863, family: 'qwen3moe', parameterSize: '30.5B', quantization: 'Q4_K_M', kvBytesPerToken: 98_304, trainedContext: 262_144 },
  { name: 'llama3.3:70b', sizeBytes: 42_520_413_916, family: 'llama', parameterSize: '70.6B', quantization: 'Q4_K_M', kvBytesPerToken: 327_680, trainedContext: 131_072 },
]

export function findModel(name: string): CatalogueModel | undefined {
  const full = name.includes(':') ? name : `${name}:latest`
  return CATALOGUE.find(m => m.name === full || m.name === name)
}
