/**
 * What is said of the GPU Process Memory counters as the listing's
 * PowerShell reads them with each memory sample: that they cannot be read
 * (the first failure, or the first after they worked), that they are no
 * longer asked (the script gives up after three failures in a row), and
 * that they are read again after failing; each once, when it happens.
 */
export const GPU_COUNTER_TRIES = 3

export class GpuCounterWatch {
  #state: 'unknown' | 'read' | 'failing' | 'given-up' = 'unknown'
  #fails = 0

  /**
   * One answer that asked for the counters: `read`, they were read; `error`,
   * why not (the script's `X`); neither, not asked any more. What to say: a
   * failure (a source error) or a recovery (a notice).
   */
  answer(read: boolean, error: string | undefined): { text: string; recovered?: true }[] {
    if (read) {
      const was = this.#state
      this.#state = 'read'
      this.#fails = 0
      return was === 'failing' || was === 'given-up' ? [{ text: 'the GPU Process Memory counters are read again: GPU memory per process from them as before', recovered: true }] : []
    }
    if (error === undefined) return []
    const said: { text: string }[] = []
    this.#fails++
    if (this.#state === 'unknown' || this.#state === 'read') {
      said.push({ text: `the GPU Process Memory counters cannot be read (${error}): no GPU memory per process from them; skipped` })
      this.#state = 'failing'
    }
    if (this.#fails === GPU_COUNTER_TRIES) {
      said.push({ text: `the GPU Process Memory counters failed ${GPU_COUNTER_TRIES} times in a row: no longer asked until the listing's PowerShell is started again` })
      this.#state = 'given-up'
    }
    return said
  }

  /** A new PowerShell: its script asks again, and counts its failures from none. */
  restarted(): void {
    this.#fails = 0
  }
}
