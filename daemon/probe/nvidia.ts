import { runCommand } from './run-command.js'

/** GPU memory, with each GPU's uuid so that processes can be tied to their GPU. */
export const NVIDIA_GPU_QUERY = ['--query-gpu=index,uuid,name,memory.used,memory.total', '--format=csv']
/** GPU memory per process: PIDs and figures only, never a process name or command line. */
export const NVIDIA_APPS_QUERY = ['--query-compute-apps=gpu_uuid,pid,used_memory', '--format=csv']

/**
 * Asks nvidia-smi for each GPU's memory and for the memory each compute
 * process holds on it (which ties GPU memory to a runner's PID). A host
 * without nvidia-smi, or whose first answer fails, is not asked again; a
 * driver that cannot list processes is asked for GPUs only.
 */
export class NvidiaSource {
  #gpus: 'unknown' | 'yes' | 'no' = 'unknown'
  #apps: 'unknown' | 'yes' | 'no' = 'unknown'

  constructor(
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal,
  ) {}

  /** The text for a block, and an error worth recording (a GPU host whose nvidia-smi failed). */
  async sample(): Promise<{ text: string; error?: string }> {
    if (this.#gpus === 'no') return { text: '' }
    const r = await runCommand('nvidia-smi', NVIDIA_GPU_QUERY, this.timeoutMs, undefined, this.signal)
    if (!r.ok) {
      if (r.missing || this.#gpus === 'unknown') {
        this.#gpus = 'no' // no NVIDIA GPU here: not asked again
        return { text: '' }
      }
      return { text: '', error: r.error }
    }
    this.#gpus = 'yes'
    let text = withNewline(r.stdout)
    if (this.#apps !== 'no') {
      const a = await runCommand('nvidia-smi', NVIDIA_APPS_QUERY, this.timeoutMs, undefined, this.signal)
      if (a.ok) {
        this.#apps = 'yes'
        text += withNewline(a.stdout)
      } else if (this.#apps === 'unknown') this.#apps = 'no'
    }
    return { text }
  }
}

const withNewline = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`)
