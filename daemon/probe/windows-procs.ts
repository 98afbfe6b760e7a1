import { type ChildProcess, spawn } from 'node:child_process'
import type { ProcInfo } from './proc-linux.js'
import { powershellArgs, winBin } from './windows.js'
import { GpuCounterWatch } from './gpu-counter-watch.js'

/**
 * The processes of a Windows host, from one PowerShell that lives as long as
 * the daemon. Each line it reads on stdin (the PIDs whose sizes are wanted,
 * separated by spaces, after an `m` when the memory figures are wanted too)
 * it answers with:
 *
 *   M <tab> physical total <tab> free <tab> commit limit <tab> free of it   (KiB, Win32_OperatingSystem; when asked)
 *   W <tab> time <tab> host                       (the GPU counters read, with the memory figures)
 *   U <tab> instance <tab> dedicated <tab> shared (bytes: GPU Process Memory, each instance of an asked PID)
 *   X <tab> why                                   (the GPU counters could not be read)
 *   N <tab> pid <tab> ppid <tab> start <tab> image <tab> command line   (a PID new since the last answer)
 *   G <tab> pid                                   (a PID gone since the last answer)
 *   P <tab> pid <tab> working set <tab> private bytes   (the PIDs asked for, and the new ones)
 *   .                                             (the end of the answer)
 *
 * Sizes come from .NET's process snapshot (one system call for all
 * processes, no handle opened per process); the parent, the start time, the
 * image name and the command line from CIM (Win32_Process), asked only for
 * the PIDs that are new, in one query per answer. So a second with no
 * process come or gone costs one snapshot and a few lines. Performance
 * counters cannot serve here: a `\Process(*)` counter reader expands its
 * instances once, at its start, and never sees a runner that starts later.
 * The GPU Process Memory counters (one instance per process and adapter)
 * are read with the memory figures, every system sample, by .NET's
 * ReadCategory: every instance there is at that moment, raw, in one call,
 * without Get-Counter's one-second wait between its two reads. After three
 * failures in a row (no WDDM 2 GPU, counters disabled) they are no longer
 * asked.
 * PowerShell exits when its stdin closes: it never outlives the daemon.
 */
export const PROCESS_SCRIPT = `try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch {}
$ErrorActionPreference = 'SilentlyContinue'
$known = @{}
$props = 'ProcessId','ParentProcessId','Name','CreationDate','CommandLine'
$gpuCat = $null
$gpuFails = 0
while ($null -ne ($req = [Console]::In.ReadLine())) {
  $sb = New-Object System.Text.StringBuilder
  $want = @{}
  $mem = $false
  foreach ($w in $req.Split(' ')) { [long]$n = 0; if ($w -eq 'm') { $mem = $true } elseif ([long]::TryParse($w, [ref]$n)) { $want[$n] = $true } }
  if ($mem) {
    $os = Get-CimInstance Win32_OperatingSystem -Property TotalVisibleMemorySize,FreePhysicalMemory,TotalVirtualMemorySize,FreeVirtualMemory
    if ($os) { [void]$sb.Append("M\`t$($os.TotalVisibleMemorySize)\`t$($os.FreePhysicalMemory)\`t$($os.TotalVirtualMemorySize)\`t$($os.FreeVirtualMemory)\`n") }
    if ($gpuFails -lt 3) {
      try {
        if (-not $gpuCat) { $gpuCat = New-Object System.Diagnostics.PerformanceCounterCategory 'GPU Process Memory' }
        $all = $gpuCat.ReadCategory()
        $ded = $all['Dedicated Usage']
        $sha = $all['Shared Usage']
        if (-not $ded) { throw 'the set has no Dedicated Usage counter' }
        [void]$sb.Append("W\`t$([DateTime]::Now.ToString('o'))\`t$($env:COMPUTERNAME)\`n")
        foreach ($i in $ded.Values) {
          if ($i.InstanceName -match '^pid_(\\d+)_' -and $want.ContainsKey([long]$Matches[1])) {
            $sh = ''
            if ($sha -and $sha.Contains($i.InstanceName)) { $sh = $sha[$i.InstanceName].RawValue }
            [void]$sb.Append("U\`t$($i.InstanceName)\`t$($i.RawValue)\`t$sh\`n")
          }
        }
        $gpuFails = 0
      } catch { $gpuFails++; [void]$sb.Append("X\`t$(([string]$_.Exception.Message) -replace '[\\t\\r\\n]+', ' ')\`n") }
    }
  }
  $now = @{}
  $new = @{}
  foreach ($p in [System.Diagnostics.Process]::GetProcesses()) {
    $id = [long]$p.Id
    $now[$id] = $true
    if (-not $known.ContainsKey($id)) { $new[$id] = $true }
    if ($want.ContainsKey($id) -or $new.ContainsKey($id)) { [void]$sb.Append("P\`t$id\`t$($p.WorkingSet64)\`t$($p.PrivateMemorySize64)\`n") }
  }
  if ($new.Count -gt 0) {
    if ($new.Count -gt 50) { $cim = Get-CimInstance Win32_Process -Property $props }
    else { $cim = Get-CimInstance Win32_Process -Property $props -Filter ((@($new.Keys) | ForEach-Object { "ProcessId=$_" }) -join ' OR ') }
    foreach ($c in $cim) {
      $id = [long]$c.ProcessId
      if (-not $new.ContainsKey($id) -or $known.ContainsKey($id)) { continue }
      $start = ''
      if ($c.CreationDate) { $start = $c.CreationDate.ToUniversalTime().ToString('o') }
      $cmd = ([string]$c.CommandLine) -replace '[\\t\\r\\n]', ' '
      [void]$sb.Append("N\`t$id\`t$($c.ParentProcessId)\`t$start\`t$($c.Name)\`t$cmd\`n")
      $known[$id] = $true
    }
    # Gone before CIM saw it (a command that ran for a moment): never announced, never traced.
    foreach ($id in @($new.Keys)) { $known[$id] = $true }
  }
  foreach ($id in @($known.Keys)) { if (-not $now.ContainsKey($id)) { [void]$sb.Append("G\`t$id\`n"); $known.Remove($id) } }
  [void]$sb.Append(".\`n")
  [Console]::Out.Write($sb.ToString())
  [Console]::Out.Flush()
}
`

/** What Win32_OperatingSystem says of memory, in KiB (the figures systeminfo prints). */
export interface OsMemory {
  totalKb: number
  freeKb: number
  commitLimitKb: number
  commitFreeKb: number
}

/** The GPU Process Memory counters of the asked PIDs' instances, as the script read them: when, on which host, and each instance's bytes. */
export interface GpuCounters {
  time: string
  host: string
  rows: { instance: string; dedicated: string; shared: string }[]
}

type Answer = { procs: ProcInfo[]; memory?: OsMemory; gpu?: GpuCounters; gpuError?: string; bad: number; hidden?: string }

interface Known {
  ppid: number
  startMs: number
  image: string
  command: string
}

const DIGITS = /^\d+$/
const INSTANCE = /^pid_\d+_luid_0x[0-9A-Fa-f]+_0x[0-9A-Fa-f]+_phys_\d+$/

/**
 * Every process the listing announced, and which of them are traced: chosen
 * again (by `select`) only when a process came or went, and the only ones
 * whose sizes the next request asks for.
 */
export class ProcessTable {
  readonly #known = new Map<number, Known>()
  readonly #select: (all: ProcInfo[]) => ProcInfo[]
  #selected: number[] = []
  #saidHidden = false

  constructor(select: (all: ProcInfo[]) => ProcInfo[]) {
    this.#select = select
  }

  /** The request for the next answer: the traced PIDs, after `m` when the memory figures are wanted. */
  request(memory = false): string {
    return `${[...(memory ? ['m'] : []), ...this.#selected].join(' ')}\n`
  }

  /** Nothing announced yet: the next answer is a first one. */
  get empty(): boolean {
    return this.#known.size === 0
  }

  clear(): void {
    this.#known.clear()
    this.#selected = []
  }

  /** One answer's lines: the traced processes with their sizes, the total memory where given, and how many lines were not understood. */
  read(lines: string[]): Answer {
    const sizes = new Map<number, [number, number]>()
    let memory: OsMemory | undefined
    let gpu: GpuCounters | undefined
    let gpuError: string | undefined
    let bad = 0
    let changed = false
    for (const line of lines) {
      const f = line.split('\t')
      const pid = Number(DIGITS.test(f[1] ?? '') ? f[1] : NaN)
      if (f[0] === 'P' && f.length === 4 && pid >= 0 && DIGITS.test(f[2] as string) && DIGITS.test(f[3] as string)) sizes.set(pid, [Number(f[2]), Number(f[3])])
      else if (f[0] === 'N' && f.length >= 6 && pid >= 0) {
        const ms = Date.parse((f[3] as string).replace(/(\.\d{3})\d*/, '$1'))
        this.#known.set(pid, { ppid: Number(f[2]) || 0, startMs: Number.isFinite(ms) ? ms : 0, image: f[4] as string, command: f.slice(5).join(' ') })
        changed = true
      } else if (f[0] === 'G' && f.length === 2 && pid >= 0) changed = this.#known.delete(pid) || changed
      else if (f[0] === 'M' && f.length === 5 && f.every((x, i) => i === 0 || DIGITS.test(x))) memory = { totalKb: Number(f[1]), freeKb: Number(f[2]), commitLimitKb: Number(f[3]), commitFreeKb: Number(f[4]) }
      else if (f[0] === 'W' && f.length === 3 && !(f[1] as string).includes('\\')) gpu = { time: f[1] as string, host: f[2] as string, rows: [] }
      else if (f[0] === 'U' && f.length === 4 && gpu && INSTANCE.test(f[1] as string) && DIGITS.test(f[2] as string) && (f[3] === '' || DIGITS.test(f[3] as string))) gpu.rows.push({ instance: f[1] as string, dedicated: f[2] as string, shared: f[3] as string })
      else if (f[0] === 'X' && f.length >= 2) gpuError = f.slice(1).join(' ').slice(0, 300)
      else if (line !== '') bad++
    }
    if (changed) this.#selected = this.#select([...this.#known.keys()].map(pid => this.#info(pid, 0, 0))).map(p => p.pid)
    const hidden = changed && !this.#saidHidden ? this.#hidden() : undefined
    const procs: ProcInfo[] = []
    for (const pid of this.#selected) {
      const size = sizes.get(pid)
      if (size) procs.push(this.#info(pid, size[0], size[1]))
    }
    return { procs, bad, ...(memory ? { memory } : {}), ...(gpu ? { gpu } : {}), ...(gpuError ? { gpuError } : {}), ...(hidden ? { hidden } : {}) }
  }

  /** An Ollama process whose command line CIM does not show (another user's, a service's, to a user not elevated): said once. */
  #hidden(): string | undefined {
    const pid = this.#selected.find(p => this.#known.get(p)?.command === '' && /ollama/i.test(this.#known.get(p)?.image ?? ''))
    if (pid === undefined) return undefined
    this.#saidHidden = true
    return `the command line of ${this.#known.get(pid)?.image} (pid ${pid}) cannot be read: it runs as another user (a service); its runners are told by name only and named from /api/ps. memtrace run as that user, or elevated, would read it`
  }

  #info(pid: number, ws: number, priv: number): ProcInfo {
    const k = this.#known.get(pid) as Known
    return { pid, ppid: k.ppid, comm: k.image, rssKb: Math.floor(ws / 1024), vszKb: Math.floor(priv / 1024), command: k.command, startTicks: k.startMs }
  }
}

/** A request written and not yet answered: when, whether it is the first, whether it asks the memory figures, and who waits for it. */
type Asked = { at: number; first: boolean; memory: boolean; waiting: ((r: Answer | undefined) => void)[] }

/** How long PowerShell may take to start and give its first answer (CIM asked about every process). */
export const FIRST_ANSWER_MS = 20_000

/**
 * The daemon's side of that PowerShell: one request per process sample, its
 * answer read into the table as it comes; the system sample's memory
 * figures and GPU counters go with the process request of the same second
 * (or one of their own, `memoryNow`), and the system sample waits for them.
 * While the first answer is awaited (PowerShell starting, CIM asked about
 * every process: seconds on a busy PC), samples go on without rows instead
 * of blocking the ticks. A
 * PowerShell that died, or did not answer in time (it is then ended), is
 * started again at the next sample, at most every 5 s, and said.
 */
export class WinProcessReader {
  #child: ChildProcess | undefined
  #buf = ''
  #lines: string[] = []
  /** The request written and not yet answered, and who waits for it. */
  #asked: Asked | undefined
  readonly #table: ProcessTable
  #startedAt = -Infinity
  #ended: string | undefined
  #closed = false
  /** The memory figures of the last answer that had them, and when it came. */
  memory: (OsMemory & { at: number }) | undefined
  /** The GPU counters of the last answer that asked for them, and when it came: none where that answer had none (an `X`, or no longer asked). */
  gpu: (GpuCounters & { at: number }) | undefined
  /** What is to be said of the counters (failing, given up, read again), each once; taken by the system sample. */
  readonly gpuSaid: { text: string; recovered?: true }[] = []
  readonly #gpuWatch = new GpuCounterWatch()
  #askMemory = true
  /** How many PowerShells were started. */
  starts = 0

  /** `select` picks the traced processes from all (the daemon's rule, run only when a process came or went). */
  constructor(signal: AbortSignal, select: (all: ProcInfo[]) => ProcInfo[]) {
    this.#table = new ProcessTable(select)
    signal.addEventListener('abort', () => this.close(), { once: true })
  }

  async list(timeoutMs: number): Promise<{ procs: ProcInfo[]; error?: string }> {
    // Stopping is no failure of the source: nothing is said.
    if (this.#closed) return { procs: [] }
    let restarted: string | undefined
    if (!this.#child) {
      if (Date.now() - this.#startedAt < 5000) return { procs: [], error: `powershell.exe (the process listing) ${this.#ended ?? 'ended'}; started again 5 s after its last start` }
      restarted = this.starts > 0 ? `powershell.exe (the process listing) ${this.#ended ?? 'ended'}; started again` : undefined
      this.#start()
    }
    const child = this.#child as ChildProcess
    if (!this.#asked) {
      this.#asked = { at: Date.now(), first: this.#table.empty, memory: this.#askMemory, waiting: [] }
      child.stdin?.write(this.#table.request(this.#askMemory))
      this.#askMemory = false
    }
    const asked = this.#asked
    // A first answer is waited for half a second a sample, so the ticks go on.
    const got = await this.#wait(asked, asked.first ? Math.min(500, timeoutMs) : timeoutMs)
    if (this.#closed) return { procs: [] }
    if (!got) {
      if (this.#child !== child) return { procs: [], error: `powershell.exe (the process listing) ${this.#ended ?? 'ended'}` }
      // The first answer: later samples wait on the same request, without rows, up to FIRST_ANSWER_MS.
      if (asked.first && Date.now() - asked.at < FIRST_ANSWER_MS) return restarted ? { procs: [], error: restarted } : { procs: [] }
      const why = `no answer within ${asked.first ? FIRST_ANSWER_MS : timeoutMs} ms`
      this.#kill(why)
      return { procs: [], error: `powershell.exe (the process listing): ${why}` }
    }
    const error = restarted ?? got.hidden ?? (got.bad > 0 ? `powershell.exe: ${got.bad} lines of its listing not understood; skipped` : undefined)
    return error ? { procs: got.procs, error } : { procs: got.procs }
  }

  /** The next request asks for the memory figures too (the process sample at the system sample's time). */
  askMemory(): void {
    this.#askMemory = true
  }

  /**
   * The memory figures and the GPU counters, asked now for the system
   * sample, waited for up to `limitMs`: true when they came. A request
   * already out that asks them is waited for; one that does not (the process
   * sample's) is answered first, then they are asked. While PowerShell
   * starts (its first answer), none: the ticks go on.
   */
  async memoryNow(limitMs: number): Promise<boolean> {
    const until = Date.now() + limitMs
    if (this.#closed || !this.#child || this.#asked?.first) return false
    if (this.#asked && !this.#asked.memory && !(await this.#wait(this.#asked, limitMs))) return false
    const child = this.#child
    if (this.#closed || !child) return false
    if (!this.#asked) {
      this.#asked = { at: Date.now(), first: false, memory: true, waiting: [] }
      child.stdin?.write(this.#table.request(true))
      this.#askMemory = false
    }
    return this.#asked.memory && (await this.#wait(this.#asked, until - Date.now())) !== undefined
  }

  /** `asked`'s answer, or undefined after `ms` (the request stays out: a later wait may still get it). */
  #wait(asked: Asked, ms: number): Promise<Answer | undefined> {
    return new Promise<Answer | undefined>(resolve => {
      const timer = setTimeout(() => resolve(undefined), Math.max(0, ms))
      asked.waiting.push(r => {
        clearTimeout(timer)
        resolve(r)
      })
    })
  }

  /** The GPU counters' read not yet written, taken: a read is written into one block only. */
  takeGpu(): (GpuCounters & { at: number }) | undefined {
    const g = this.gpu
    this.gpu = undefined
    return g
  }

  #start(): void {
    this.#startedAt = Date.now()
    this.starts++
    this.#gpuWatch.restarted()
    this.#table.clear()
    this.#buf = ''
    this.#lines = []
    this.#asked = undefined
    this.#ended = undefined
    const child = spawn(winBin('powershell.exe'), powershellArgs(PROCESS_SCRIPT), { stdio: ['pipe', 'pipe', 'ignore'], windowsHide: true })
    this.#child = child
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (d: string) => this.#data(d))
    child.stdin?.on('error', () => {})
    child.on('error', e => this.#gone(child, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : e.message))
    child.on('exit', (code, signal) => this.#gone(child, `exited (${signal ?? `status ${code}`})`))
  }

  #data(d: string): void {
    this.#buf += d
    let nl
    while ((nl = this.#buf.indexOf('\n')) !== -1) {
      const line = this.#buf.slice(0, nl).replace(/\r$/, '')
      this.#buf = this.#buf.slice(nl + 1)
      if (line === '.') {
        // Read into the table whoever waits: a late answer's new PIDs are never lost.
        const r = this.#table.read(this.#lines)
        this.#lines = []
        const asked = this.#asked
        if (r.memory) this.memory = { ...r.memory, at: Date.now() }
        // An answer that asked for the counters and has none (an `X`, or no longer asked) leaves none: an older read is never kept.
        if (asked?.memory) {
          this.gpu = r.gpu ? { ...r.gpu, at: Date.now() } : undefined
          this.gpuSaid.push(...this.#gpuWatch.answer(r.gpu !== undefined, r.gpuError))
        }
        this.#asked = undefined
        for (const w of asked?.waiting ?? []) w(r)
      } else if (this.#lines.length < 100_000) this.#lines.push(line)
    }
  }

  #gone(child: ChildProcess, why: string): void {
    if (this.#child !== child) return
    this.#child = undefined
    this.#ended = why
    this.#unanswered()
  }

  #kill(why: string): void {
    const child = this.#child
    this.#child = undefined
    this.#ended = why
    child?.stdin?.end()
    child?.kill()
    this.#unanswered()
  }

  #unanswered(): void {
    const asked = this.#asked
    this.#asked = undefined
    for (const w of asked?.waiting ?? []) w(undefined)
  }

  /** Ends PowerShell: its stdin closes, and it is killed in case it does not see that. */
  close(): void {
    this.#closed = true
    this.#kill('stopped')
  }
}
