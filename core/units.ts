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
