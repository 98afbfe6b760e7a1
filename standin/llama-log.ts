/**
 * What a stand-in runner writes on stderr when it stands in for llama-server
 * (Ollama 0.30+), which Ollama copies into its own log: the llama.cpp runner
 * writes llama.cpp's own lines, as node-llama-cpp's logger hands them over.
 */

/**
 * A runner's stderr, as llama-server writes it: one line per message, and
 * llama.cpp's progress dots (each handed over on its own) gathered on one
 * line, as llama.cpp's own log prints them. It counts the lines it wrote, so
 * that the server can copy them all before it says the runner started.
 */
export class RunnerLog {
  #dots = ''
  #count = 0
  readonly #out: NodeJS.WritableStream

  constructor(out: NodeJS.WritableStream = process.stderr) {
    this.#out = out
  }

  get count(): number {
    return this.#count
  }

  /** A message from llama.cpp: one or more lines, without the last line end. */
  message(text: string): void {
    if (/^\.+$/.test(text)) {
      this.#dots += text
      return
    }
    this.flush()
    for (const line of text.split('\n')) this.#line(line)
  }

  /** Writes the dots gathered so far, if any. */
  flush(): void {
    if (!this.#dots) return
    const dots = this.#dots
    this.#dots = ''
    this.#line(dots)
  }

  #line(line: string): void {
    this.#out.write(`${line}\n`)
    this.#count++
  }
}
