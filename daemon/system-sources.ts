import { accessSync, constants, realpathSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { DaemonConfig } from './config.js'
import { macSystemText } from './probe/macos.js'
import { NvidiaSource } from './probe/nvidia.js'
import { AmdgpuSource } from './probe/amdgpu.js'
import { isTegra, TegrastatsSource } from './probe/tegrastats.js'
import { fetchApiPs } from './probe/ollama.js'
import { runCommand } from './probe/run-command.js'
import { eventLine } from '../core/parse/events.js'
import type { ServerAddress } from './server-addresses.js'
import { cgroupText, linuxSystemText, memoryCgroup, namespaceCgroup } from './probe/system-linux.js'
import { isWsl2Release, kernelRelease, WslNotice } from './wsl.js'
import { CounterStream } from './probe/typeperf.js'
import { SYSTEM_COUNTERS, winBin } from './probe/windows.js'
import { gpuCounterLines, systeminfoLines } from '../core/counter-lines.js'
import { WinProcessReader } from './probe/windows-procs.js'
import { selectProcesses } from './select.js'

const API_TIMEOUT_MS = 2000
export const COMMAND_TIMEOUT_MS = 3000
/** Windows: how long a system sample waits for the memory figures and GPU counters it asked the listing's PowerShell for. */
export const MEMORY_WAIT_MS = 2000

/** Where a source's failures go: recorded in the trace, and said when they start or change. */
export interface SourceErrors {
  error(source: string, message: string): void
  /** The source works again: its next failure is said anew. */
  recovered(source: string): void
}

/** What one system sample reads: the memory sources, the GPUs, and what the server says is loaded. */
export interface SystemText {
  /** `notices`: a source that failed works again, said once. */
  sys: { text: string; errors: string[]; notices?: string[] }
  gpu: string
  ollama: { text: string; answered: boolean }
}

/**
 * The system sample's sources, all at once: /proc (and the server's memory
 * cgroup) or Apple's commands, nvidia-smi, then /api/ps and `ollama ps`.
 */
export class SystemSources {
  readonly #cfg: DaemonConfig
  readonly #signal: AbortSignal
  readonly #errors: SourceErrors
  readonly #nvidia: NvidiaSource
  readonly #amd: AmdgpuSource | undefined
  readonly #tegra: TegrastatsSource | undefined
  readonly #wsl: WslNotice
  #ollamaCli: 'unknown' | 'yes' | 'no' = 'unknown'
  #ollamaCliReal: string | undefined
  /** The server's memory cgroup (v2) at the last sample, where it has one. */
  cgroupDir: string | undefined
  /** Windows: the processes, from one PowerShell that lives as long as the daemon. */
  readonly winProcs: WinProcessReader | undefined
  /** Windows: the memory counters, from one typeperf that lives as long as the daemon. */
  readonly #counters: CounterStream | undefined

  constructor(cfg: DaemonConfig, signal: AbortSignal, errors: SourceErrors) {
    this.#cfg = cfg
    this.#signal = signal
    this.#errors = errors
    this.#nvidia = new NvidiaSource(COMMAND_TIMEOUT_MS, signal)
    const linux = cfg.platform === 'linux'
    this.#amd = linux ? new AmdgpuSource(cfg.sysRoot ?? '/sys', COMMAND_TIMEOUT_MS, signal) : undefined
    this.#tegra = linux && isTegra(cfg.procRoot) ? new TegrastatsSource(cfg.systemIntervalMs, signal) : undefined
    this.#wsl = new WslNotice(linux && isWsl2Release(kernelRelease()))
    if (cfg.platform === 'win32') {
      this.winProcs = new WinProcessReader(signal, all => selectProcesses(all, cfg.match, process.pid))
      this.#counters = new CounterStream(winBin('typeperf.exe'), SYSTEM_COUNTERS, 1, signal)
    }
  }

  /**
   * One sample of every source; `serverPid` finds the server's memory cgroup.
   * With several servers (`servers`, two or more), each is asked, and each
   * listing follows a `memtrace server` line that names its server.
   */
  async read(serverPid: number | undefined, servers: ServerAddress[] = []): Promise<SystemText> {
    const sources = this.#cfg.platform === 'linux' ? this.#linux(serverPid) : this.#counters ? this.#windows() : macSystemText(COMMAND_TIMEOUT_MS, this.#signal)
    const listings = servers.length > 1 ? this.#eachServer(servers) : this.#ollamaText(this.#cfg.ollamaUrl)
    const [sys, nvidia, amd, ollama] = await Promise.all([sources, this.#nvidiaText(), this.#amdText(), listings])
    const wsl = this.#wsl.check(serverPid !== undefined, ollama.answered, this.#cfg.ollamaUrl)
    if (wsl) this.#errors.error('wsl', wsl)
    return { sys, gpu: nvidia + amd + this.#tegraText(), ollama }
  }

  async #eachServer(servers: ServerAddress[]): Promise<{ text: string; answered: boolean }> {
    const each = await Promise.all(servers.map(s => this.#ollamaText(s.url)))
    let text = ''
    servers.forEach((s, i) => {
      text += eventLine('server', { pid: s.pid, address: s.address, via: s.via })
      text += (each[i] as { text: string }).text
    })
    return { text, answered: each.some(r => r.answered) }
  }

  async #linux(serverPid: number | undefined): Promise<{ text: string; errors: string[] }> {
    const r = linuxSystemText(this.#cfg.procRoot)
    // The server's cgroup; before a server is seen, memtrace's own when it runs in a container (the root of its cgroup namespace).
    const cg = serverPid ? memoryCgroup(serverPid, this.#cfg.procRoot) : namespaceCgroup(this.#cfg.procRoot)
    this.cgroupDir = cg?.version === 2 ? cg.dir : undefined
    if (cg) r.text += cgroupText(cg)
    return r
  }

  /**
   * Windows: systeminfo's memory lines from Win32_OperatingSystem and the
   * traced processes' GPU memory from the GPU Process Memory counters, both
   * asked of the listing's PowerShell at this sample and waited for a short
   * while (MEMORY_WAIT_MS: figures that come later are not written, never
   * written late under another block's time); then the newest row of the
   * memory counters as typeperf printed it, whose exact bytes, pages/s and
   * page file usage `render` prefers. Counters that cannot be read (no WDDM
   * 2 GPU, counters disabled) are said once, as skipped.
   */
  async #windows(): Promise<{ text: string; errors: string[]; notices?: string[] }> {
    const win = this.winProcs as WinProcessReader
    const askedAt = Date.now()
    const answered = await win.memoryNow(MEMORY_WAIT_MS)
    const c = (this.#counters as CounterStream).sample()
    const now = <T extends { at: number }>(x: T | undefined) => (answered && x && x.at >= askedAt ? x : undefined)
    const m = now(win.memory)
    const g = now(win.takeGpu())
    const errors = c.error ? [c.error] : []
    const said = win.gpuSaid.splice(0)
    errors.push(...said.filter(s => !s.recovered).map(s => s.text))
    const notices = said.filter(s => s.recovered).map(s => s.text)
    return { text: `${m ? systeminfoLines(m) : ''}${c.text}${g ? gpuCounterLines(g) : ''}`, errors, ...(notices.length > 0 ? { notices } : {}) }
  }

  async #amdText(): Promise<string> {
    if (!this.#amd) return ''
    const r = await this.#amd.sample()
    if (r.error) this.#errors.error('amdgpu', r.error)
    return r.text
  }

  #tegraText(): string {
    if (!this.#tegra) return ''
    const r = this.#tegra.sample()
    if (r.error) this.#errors.error('tegrastats', r.error)
    return r.text
  }

  async #nvidiaText(): Promise<string> {
    const r = await this.#nvidia.sample()
    if (r.error) this.#errors.error('nvidia-smi', r.error)
    return r.text
  }

  /**
   * The `ollama` on PATH, by its real path. On macOS `/usr/local/bin/ollama`
   * links into Ollama.app, and the CLI started through that link relaunches
   * the app when the server does not answer: if the user quit Ollama between
   * the /api/ps answer and this call, memtrace would start it again.
   */
  #ollamaCliPath(): string {
    if (this.#ollamaCliReal) return this.#ollamaCliReal
    for (const d of (process.env.PATH ?? '').split(delimiter)) {
      if (!d) continue
      try {
        const real = realpathSync(join(d, process.platform === 'win32' ? 'ollama.exe' : 'ollama'))
        accessSync(real, constants.X_OK)
        this.#ollamaCliReal = real
        return real
      } catch {
        // not here
      }
    }
    return 'ollama'
  }

  /** /api/ps first; the CLI only when the server answered (it can relaunch the macOS app). */
  async #ollamaText(url: string): Promise<{ text: string; answered: boolean }> {
    const api = await fetchApiPs(url, API_TIMEOUT_MS, this.#signal)
    if (!api.ok) {
      this.#errors.error('api-ps', api.error)
      return { text: '', answered: false }
    }
    this.#errors.recovered('api-ps')
    let cli = ''
    if (this.#ollamaCli !== 'no') {
      const env = { ...process.env, OLLAMA_HOST: url }
      const r = await runCommand(this.#ollamaCliPath(), ['ps'], COMMAND_TIMEOUT_MS, env, this.#signal)
      if (r.ok) {
        this.#ollamaCli = 'yes'
        cli = r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`
      } else if (r.missing) {
        this.#ollamaCli = 'no'
        this.#errors.error('ollama-ps', r.error)
      } else this.#errors.error('ollama-ps', r.error)
    }
    return { text: `${cli}${api.body}\n`, answered: true }
  }
}
