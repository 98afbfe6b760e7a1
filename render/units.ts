/** Sizes as memtrace writes them everywhere: GiB with one decimal. */

export const GIB = 1024 ** 3

/** `5.6 GiB` */
export function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`
}
