/**
 * Performance counters as Get-Counter prints them: what the daemon writes
 * into a system block on Windows (the GPU Process Memory counters), and what
 * `render --prometheus` writes back from the metrics (those, and the memory
 * counters). `parse/windows-lines.ts` reads them. Pure.
 */

/**
 * Counters in Get-Counter's layout: its heading, the time beside the first
 * path, each path in lower case under `\\host\` ending ` :`, its value on
 * the line under it, a blank line between counters. `path` is the counter's
 * set and name (`memory\available bytes`). Nothing when there are none.
 */
export function getCounterLines(time: string, host: string, counters: { path: string; value: string }[]): string {
  if (counters.length === 0) return ''
  const pad = ' '.repeat(26)
  let out = 'Timestamp                 CounterSamples\n---------                 --------------\n'
  counters.forEach(({ path, value }, i) => {
    const lead = i === 0 ? `${time} `.padEnd(26) : pad
    out += `${lead}${`\\\\${host}\\${path}`.toLowerCase()} :\n${pad}${value}\n\n`
  })
  return out
}

/**
 * Per-process GPU Process Memory counters (Dedicated Usage, then Shared
 * Usage, of each instance: `pid_<pid>_luid_<high>_<low>_phys_<n>`), in
 * Get-Counter's layout. `render` reads them as a pasted Get-Counter.
 * Nothing where no traced process has an instance.
 */
export function gpuCounterLines(g: { time: string; host: string; rows: { instance: string; dedicated: string; shared: string }[] }): string {
  const counters: { path: string; value: string }[] = []
  for (const counter of ['dedicated', 'shared'] as const) {
    for (const r of g.rows) if (r[counter] !== '') counters.push({ path: `gpu process memory(${r.instance})\\${counter} usage`, value: r[counter] })
  }
  return getCounterLines(g.time, g.host, counters)
}
