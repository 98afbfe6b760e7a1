/** Sizes as memtrace writes them everywhere: GiB with one decimal. */

export const GIB = 1024 ** 3

/** `5.6 GiB` */
export function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`
}

/** In tables, where small figures matter too: `1.75 GiB`, or `32 MiB` under a GiB. */
export function gibOrMib(bytes: number): string {
  return Math.abs(bytes) >= GIB ? `${(bytes / GIB).toFixed(2)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`
}

/**
 * A share in per cent as a sentence writes it, to a tenth. A share under
 * `below` (the low-free threshold) that would round up to it is cut down
 * instead: 29.998 % under 30 % reads 29.9 %, never 30 %.
 */
export function pctText(v: number, below?: number): string {
  const r = Math.round(v * 10) / 10
  return String(below !== undefined && v < below && r >= below ? Math.floor(v * 10) / 10 : r)
}
