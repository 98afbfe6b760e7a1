/**
 * A copy of `s` that shares no memory with the text it was cut from.
 *
 * A slice of a line is, in V8, a view into the whole chunk of the file the
 * line came from; keeping one (a process's command line, for the whole
 * trace) keeps the chunk. Joined to another string and sliced again, the
 * text is copied out on its own, whatever characters it holds. Pure.
 */
export function detach(s: string): string {
  return ` ${s}`.slice(1)
}
