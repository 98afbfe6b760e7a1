/**
 * Sizes as Ollama and llama.cpp print them, read exactly: `"10.1 GiB"` is
 * 101 × 2^30 / 10 bytes, computed from the digits, never from a rounded
 * float. Ollama prints binary units with one decimal (`format.HumanBytes2`);
 * llama.cpp prints `MiB` with two; the kernel prints `kB` meaning KiB.
 */

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  // Ollama's decimal spellings (format.HumanBytes, 0.1.x) are powers of ten.
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
}

const SIZE_RE = /^(\d{1,15})(?:\.(\d{1,6}))? ?(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)$/

/** Bytes for `N[.D] UNIT`, or undefined when the text is not exactly a size. `binary`: Ollama's own lines print only B, KiB, MiB, GiB, TiB. */
export function sizeBytes(text: string, binary = false): number | undefined {
  const m = SIZE_RE.exec(text.trim())
  if (!m) return undefined
  if (binary && !/^(?:B|[KMGT]iB)$/.test(m[3] as string)) return undefined
  const [, whole, frac = '', unit] = m as unknown as [string, string, string | undefined, string]
  // Past 15 digits a double no longer holds every integer: such a figure cannot be read exactly.
  if (whole.length + frac.length > 15) return undefined
  return scaled(whole, frac, UNITS[unit] as number)
}

/** `whole.frac × unit`, from the digits: the division is the one rounding, so the result is the double nearest the printed value. */
export function scaled(whole: string, frac: string, unit: number): number {
  const digits = Number(whole + frac)
  const tenths = 10 ** frac.length
  // A decimal unit divides by the decimals exactly; a binary one is multiplied exactly and divided once.
  return unit % tenths === 0 ? digits * (unit / tenths) : (digits * unit) / tenths
}

/** A list of sizes, one per GPU: `[10.3 GiB 10.3 GiB]`, `[2.7 GiB]`; undefined unless every item reads. */
export function sizeList(text: string, binary = false): number[] | undefined {
  const t = text.trim()
  if (t[0] !== '[' || t[t.length - 1] !== ']') return undefined
  const words = t.slice(1, -1).trim().split(/\s+/)
  if (words.length % 2 !== 0 || words.length === 0 || words.length > 64) return undefined
  const out: number[] = []
  for (let i = 0; i < words.length; i += 2) {
    const b = sizeBytes(`${words[i]} ${words[i + 1]}`, binary)
    if (b === undefined) return undefined
    out.push(b)
  }
  return out
}

/** A plain count (`49`, `16384`), or undefined. */
export function count(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,12}$/.test(text)) return undefined
  return Number(text)
}
