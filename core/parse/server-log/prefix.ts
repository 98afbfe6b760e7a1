/**
 * What stands before a log line's own text, by where it was copied from:
 * the journal (`May 14 09:12:03 host ollama[812]: `, months in any locale,
 * with or without the host, or `-o short-iso`), rsyslog's `message repeated N
 * times: [ … ]`, `docker logs --timestamps`, `docker compose logs`
 * (`ollama  | `), Docker Desktop's local time, the kernel log
 * (`[12345.678901] `, or `dmesg -T`'s `[Tue May 14 09:12:03 2025] `), Go's
 * standard logger (`2024/11/17 17:53:44 `), llama.cpp's own prefix
 * (`0.00.025.456 I `), and a paste's indentation,
 * Markdown quote, back-tick or HTML line break. Only what is certain is
 * kept: a journal time has no year, a local time no zone.
 */

import { parseTs } from '../time.js'

export interface Stripped {
  /** The line's own text. */
  body: string
  /** A full instant from the prefix (short-iso journal, docker --timestamps), as milliseconds. */
  ms?: number
  /** A time without a year or without a zone, as printed. */
  clock?: string
  /** A kernel line's seconds since boot. */
  uptimeS?: number
  /** rsyslog folded this many identical lines into one. */
  repeated?: number
}

const JOURNAL_RE = /^(\S{1,6}\.? {1,2}\d{1,2} \d\d:\d\d:\d\d) (?:[\w.-]+ )?[\w.@-]{1,40}(?:\[\d+\])?: /
const JOURNAL_ISO_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) [\w.-]+ [\w.@-]{1,40}(?:\[\d+\])?: /
const DOCKER_TS_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) /
const LOCAL_TS_RE = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?=time=|level=)/
const GO_LOG_RE = /^(\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d) /
const COMPOSE_RE = /^[\w.-]{1,64} +\| /
const UPTIME_RE = /^\[ *(\d{1,10}\.\d{1,9})\] /
const DMESG_T_RE = /^\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] /
const REPEATED_RE = /^message repeated (\d{1,9}) times: \[ ?(.*?) ?\]$/
const LEAD_RE = /^(?:> ?|`)+/
/**
 * llama.cpp's own log prefix (common/log.cpp, `--log-prefix`, with
 * `--log-timestamps` the time since the program started,
 * `M.SS.mmm.uuu`), then its level, `I`, `W`, `E` or `D`; bare, only before
 * a llama.cpp function's name (`I load_tensors: …`), so that no prose is cut.
 */
const LLAMA_LOG_RE = /^(?:\d{1,7}\.\d\d\.\d{3}\.\d{3} [IWED] |[IWED] (?=[a-z_][a-z0-9_]*: ))/

/** The line without the prefixes a copy added. */
export function stripPrefix(raw: string): Stripped {
  let body = raw.trim().replace(/(?:<br ?\/?>)+$/i, '')
  const lead = LEAD_RE.exec(body)
  if (lead) body = body.slice(lead[0].length).trimStart()
  const out: Stripped = { body }
  let m = JOURNAL_ISO_RE.exec(body) ?? DOCKER_TS_RE.exec(body)
  if (m) {
    const ms = parseTs((m[1] as string).replace(',', '.').replace(/([+-]\d\d)(\d\d)$/, '$1:$2'))
    if (!Number.isNaN(ms)) out.ms = ms
    body = body.slice(m[0].length)
  } else if ((m = JOURNAL_RE.exec(body))) {
    out.clock = (m[1] as string).replace(/ {2}/, ' ')
    body = body.slice(m[0].length)
  } else if ((m = UPTIME_RE.exec(body))) {
    out.uptimeS = Number(m[1])
    body = body.slice(m[0].length)
  } else if ((m = DMESG_T_RE.exec(body) ?? COMPOSE_RE.exec(body))) {
    body = body.slice(m[0].length)
  } else if ((m = LOCAL_TS_RE.exec(body))) {
    out.clock = m[1] as string
    body = body.slice(m[0].length)
  }
  // The kernel's own uptime after a journal or syslog prefix.
  if (out.uptimeS === undefined && (m = UPTIME_RE.exec(body))) {
    out.uptimeS = Number(m[1])
    body = body.slice(m[0].length)
  }
  const rep = REPEATED_RE.exec(body)
  if (rep) {
    out.repeated = Number(rep[1])
    body = rep[2] as string
  }
  if ((m = GO_LOG_RE.exec(body))) {
    out.clock ??= m[1] as string
    body = body.slice(m[0].length)
  }
  if ((m = LLAMA_LOG_RE.exec(body))) body = body.slice(m[0].length)
  out.body = body
  return out
}

/** Whether a line starts a log record of its own (a time, a prefix, a level): never the rest of a wrapped one. */
export function startsRecord(s: Stripped): boolean {
  return s.ms !== undefined || s.clock !== undefined || s.uptimeS !== undefined || /^(?:time|level)=|^\[GIN\]|^[\w.]+\.go:\d+: /.test(s.body)
}
