/**
 * Text from a trace is a stranger's: before it reaches a terminal, a report
 * or a label, control characters (an `ESC ]0;…` that retitles the terminal,
 * an `ESC [2J` that clears it, the C1 `CSI`) and bidi overrides (which make
 * text read backwards) are replaced. Pure.
 */

/** C0 controls but tab and newline, DEL and C1 controls; bidi embeddings, overrides and isolates. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/** The text with every unsafe character replaced by U+FFFD, so that damage stays visible. */
export function printable(text: string): string {
  return text.replace(UNSAFE, '\uFFFD')
}

/** A JSON line that a terminal shows as written: the same data, unsafe characters as `\uXXXX` escapes. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** One line of printable text: tabs and newlines from a trace must not start a line of their own. */
export function oneLine(text: string): string {
  return printable(text).replace(/[\t\n]/g, ' ')
}

/**
 * Text for Markdown that GitHub renders: no HTML, no links or images, no
 * mentions, issue references, emphasis or table breaks from a trace.
 */
export function markdownText(text: string): string {
  return oneLine(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]!@|~#]/g, c => `\\${c}`)
}

/** Text for a Markdown code span or fence: one line, no backticks to close it. */
export function codeText(text: string): string {
  return oneLine(text).replace(/`/g, "'")
}
