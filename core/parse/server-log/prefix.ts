/**
 * What stands before a log line's own text, by where it was copied from:
 * the journal (`May 14 09:12:03 host ollama[812]: `, or `-o short-iso`),
 * `docker logs --timestamps`, the kernel log (`[12345.678901] `, or
 * `dmesg -T`'s `[Tue May 14 09:12:03 2025] `), and a paste's indentation or
 * Markdown quote. Only what is certain is kept: a journal time has no year.
 */

import { parseTs } from '../time.js'

export interface Stripped {
  /** The line's own text. */
  body: string
  /** A full instant from the prefix (short-iso journal, docker --timestamps), as milliseconds. */
  ms?: number
  /** A journal time without a year. */
  clock?: string
  /** A kernel line's seconds since boot. */
  uptimeS?: number
}

const JOURNAL_RE = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) \S+ [^\s[\]:]+(?:\[\d+\])?: /
const JOURNAL_ISO_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) \S+ [^\s[\]:]+(?:\[\d+\])?: /
const DOCKER_TS_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) /
const UPTIME_RE = /^\[ *(\d{1,10}\.\d{1,9})\] /
const DMESG_T_RE = /^\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] /
const QUOTE_RE = /^(?:> ?)+/

/** The line without the prefixes a copy added. */
export function stripPrefix(raw: string): Stripped {
  let body = raw.trimStart()
  const q = QUOTE_RE.exec(body)
  if (q) body = body.slice(q[0].length).trimStart()
  const out: Stripped = { body }
  let m = JOURNAL_RE.exec(body)
  if (m) {
    out.clock = (m[1] as string).replace(/ {2}/, ' ')
    out.body = body.slice(m[0].length)
    return out
  }
  m = JOURNAL_ISO_RE.exec(body) ?? DOCKER_TS_RE.exec(body)
  if (m) {
    const ms = parseTs((m[1] as string).replace(',', '.').replace(/([+-]\d\d)(\d\d)$/, '$1:$2'))
    if (!Number.isNaN(ms)) out.ms = ms
    out.body = body.slice(m[0].length)
    return out
  }
  m = UPTIME_RE.exec(body)
  if (m) {
    out.uptimeS = Number(m[1])
    out.body = body.slice(m[0].length)
    return out
  }
  m = DMESG_T_RE.exec(body)
  if (m) out.body = body.slice(m[0].length)
  return out
}
