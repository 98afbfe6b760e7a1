/**
 * The GPU Process Memory counters as Get-Counter prints them: what the daemon
 * writes into a system block on Windows, and what `render --prometheus` writes
 * back from the metrics. `parse/windows-lines.ts` reads them. Pure.
 */

/**
 * Per-process GPU Process Memory counters (Dedicated Usage, then Shared
 * Usage, of each instance: `pid_<pid>_luid_<high>_<low>_phys_<n>`), in the
 * layout Get-Counter prints them: its heading, the time beside the first
 * path, each path in lower case under `\\host\` ending ` :`, its value on
 * the line under it, a blank line between counters. `render` reads them as
 * a pasted Get-Counter. Nothing where no traced process has an instance.
 */
export function gpuCounterLines(g: { time: string; host: string; rows: { instance: string; dedicated: string; shared: string }[] }): string {
  if (g.rows.length === 0) return ''
  const pad = ' '.repeat(26)
  let out = 'Timestamp                 CounterSamples\n---------                 --------------\n'
  let first = true
  for (const counter of ['dedicated', 'shared'] as const) {
    for (const r of g.rows) {
      if (r[counter] === '') continue
      const lead = first ? `${g.time} `.padEnd(26) : pad
      first = false
      out += `${lead}${`\\\\${g.host}\\gpu process memory(${r.instance})\\${counter} usage`.toLowerCase()} :\n${pad}${r[counter]}\n\n`
    }
  }
  return out
}
