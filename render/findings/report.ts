import type { Finding } from '../../schemas/index.js'
import type { Trace } from '../model/trace.js'
import { wallClock } from '../chart/time-axis.js'
import { formatDuration } from '../parse/time.js'

const GIB = 1024 ** 3

/** A Markdown table cell: no pipes or newlines from trace text. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ')

/** The report to paste into an issue next to the SVG. */
export function reportMarkdown(trace: Trace, findings: Finding[], o: { zone: string; svgPath: string; command: string }): string {
  const at = (ms: number) => wallClock(ms, o.zone, { date: true, seconds: true })
  const lines: string[] = ['## Memory trace (memtrace)', '']
  const host = trace.sys.memTotalBytes ? `${(trace.sys.memTotalBytes / GIB).toFixed(1)} GiB` : 'unknown'
  lines.push(`- Host memory: ${host} (${trace.sys.platform})`)
  lines.push(`- Traced: ${at(trace.startMs)} – ${at(trace.endMs)} ${o.zone} (${formatDuration(trace.endMs - trace.startMs)})`)
  lines.push(`- Chart: \`${cell(o.svgPath)}\``, '')
  lines.push('### What happened', '')
  if (findings.length === 0) lines.push('No runner overlap, no low free memory, no gaps.')
  for (const f of findings) lines.push(`- ${cell(f.text)}`)
  if (findings.some(f => f.kind === 'claim-vs-measured')) {
    lines.push('', "RSS and Ollama's figure differ by design: Ollama counts what it allocated (on a GPU, memory RSS does not show) and not the page cache of mmapped weights, prompt caches or heap growth.")
  }
  lines.push('', '### Runners', '', '| model | pid | start | end | peak RSS | Ollama size |', '|---|---|---|---|---|---|')
  for (const s of trace.procs.filter(p => p.role === 'runner')) {
    const claim = findings.find(f => f.kind === 'claim-vs-measured' && f.pids?.[0] === s.pid)?.figures?.ollamaSizeBytes
    lines.push(
      `| ${cell(s.model ?? '?')} | ${s.pid} | ${at(s.tsMs[0] as number)} | ${at(s.tsMs[s.tsMs.length - 1] as number)} | ${((s.peakRssKb * 1024) / GIB).toFixed(2)} GiB | ${claim !== undefined ? `${(claim / 1e9).toFixed(1)} GB` : '–'} |`,
    )
  }
  const markers = trace.events.filter(e => e.kind === 'marker')
  if (markers.length) {
    lines.push('', '### Markers', '')
    for (const m of markers) lines.push(`- ${at(Date.parse(m.ts))}: ${cell(m.text ?? '')}`)
  }
  lines.push('', '### Command', '', '```', o.command, '```', '')
  return lines.join('\n')
}
