/**
 * Windows' memory figures as Windows prints them: systeminfo's lines and
 * performance counters in Get-Counter's layout. What the daemon writes into
 * a system block on Windows, and what `render --prometheus` writes back from
 * the metrics. `parse/windows-lines.ts` reads them. Pure.
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

/** A figure in whole MB (MiB, rounded down), with a comma between thousands, as systeminfo prints it. */
function mb(kb: number): string {
  // Grouped by hand: toLocaleString builds a number formatter at each call.
  return `${String(Math.floor(kb / 1024)).replace(/\B(?=(\d{3})+$)/g, ',')} MB`
}

/** One of systeminfo's memory lines: its English label padded to 27 characters, the figure in whole MB. */
export function systeminfoLine(label: string, kb: number): string {
  return `${`${label}:`.padEnd(27)}${mb(kb)}\n`
}

/**
 * systeminfo's memory lines, in its layout (English labels padded to 27
 * characters, whole MB), from the Win32_OperatingSystem figures it prints
 * them from: `render` reads them on a Windows of any language, where the
 * counters' names (typeperf's) are translated.
 */
export function systeminfoLines(m: { totalKb: number; freeKb: number; commitLimitKb: number; commitFreeKb: number }): string {
  return (
    systeminfoLine('Total Physical Memory', m.totalKb) +
    systeminfoLine('Available Physical Memory', m.freeKb) +
    systeminfoLine('Virtual Memory: Max Size', m.commitLimitKb) +
    systeminfoLine('Virtual Memory: Available', m.commitFreeKb) +
    systeminfoLine('Virtual Memory: In Use', Math.max(0, m.commitLimitKb - m.commitFreeKb))
  )
}
