/**
 * Under WSL2, Ollama is most often installed on the Windows side: a Linux
 * daemon then sees none of its processes, and reaches its API only where
 * 127.0.0.1 is forwarded to Windows (WSL's mirrored networking, or the
 * default localhost forwarding). The chart would be empty with no word of
 * why. At the second system sample (the processes sampled a few times by
 * then) with no Ollama server seen since the start, this says once what is probably going on and where memtrace should
 * run instead.
 */
import { readFileSync } from 'node:fs'

/**
 * The kernel release says WSL2: Microsoft's WSL2 kernels are named like
 * `5.15.167.4-microsoft-standard-WSL2` (WSL1 reports `4.4.0-19041-Microsoft`,
 * and runs no Linux kernel of its own: its /proc is emulated).
 */
export function isWsl2Release(release: string): boolean {
  return /microsoft/i.test(release) && /WSL2/i.test(release)
}

/** This host's kernel release, from the file that holds it (`MEMTRACE_OSRELEASE` names another, for tests). */
export function kernelRelease(env: NodeJS.ProcessEnv = process.env): string {
  try {
    return readFileSync(env.MEMTRACE_OSRELEASE ?? '/proc/sys/kernel/osrelease', 'latin1').slice(0, 256).trim()
  } catch {
    return ''
  }
}

/** Says once, under WSL2, that an Ollama nowhere in sight is probably Ollama on Windows. */
export class WslNotice {
  #done: boolean
  #samples = 0

  constructor(wsl2: boolean) {
    this.#done = !wsl2
  }

  /**
   * At a system sample: whether an Ollama server process has been seen, and
   * whether one answered at `url`. The message, the first time it applies;
   * undefined after, and once a server was seen.
   */
  check(serverSeen: boolean, answered: boolean, url: string): string | undefined {
    // The first system sample may come before the first process sample: the second decides.
    if (this.#done || ++this.#samples < 2) return undefined
    this.#done = true
    if (serverSeen) return undefined
    return answered
      ? `no Ollama process runs in this WSL2 distribution, yet Ollama answers at ${url}: that is probably Ollama on Windows, reached through WSL's forwarding of 127.0.0.1, whose processes and memory memtrace cannot see from Linux: memtrace has to run where Ollama runs (on Windows), or Ollama inside this distribution`
      : `no Ollama process runs in this WSL2 distribution and none answers at ${url}: Ollama is probably running on Windows (from WSL2 its API is reached only where 127.0.0.1 is forwarded to Windows): memtrace has to run where Ollama runs, or Ollama inside this distribution`
  }
}
