/**
 * Parsers for what Windows prints about memory and processes, line by line:
 * `tasklist` (table and `/fo csv`), `Get-Process`'s table (PowerShell 5's
 * K columns, 7's M columns), a process listing as CSV (`ConvertTo-Csv` of
 * `Get-Process` or `Get-CimInstance Win32_Process`), `systeminfo`'s memory
 * lines, `Get-Counter`'s default output and the counters' CSV (`typeperf`,
 * `Export-Counter`, `relog -f csv`). Pure: each returns what the line says
 * or why it cannot be read.
 *
 * Handled: the English names of the counters and of systeminfo's lines;
 * tasklist's header in any language (its columns are told by place);
 * thousands separators `,` `.` space, no-break space and `'` in figures, a
 * decimal comma in PowerShell 7's M columns and the counters' values.
 * Not handled, and reported as skipped: counter names in other languages
 * (`\Arbeitsspeicher\Verfügbare Bytes`), systeminfo's labels in other
 * languages (their lines are not recognised), figures in any other unit.
 */

/** A figure with thousands separators of one kind, or none: `1,234,567`, `1.234.567`, `1 234 567`, `1'234'567`. */
const GROUPED_RE = /^\d{1,3}(?:([,. '\u00a0\u202f])\d{3})?(?:\1\d{3})*$|^\d+$/

/** An integer printed with (or without) a thousands separator, or undefined. */
export function groupedInt(cell: string): number | undefined {
  const t = cell.trim()
  if (t.length > 30 || !GROUPED_RE.test(t)) return undefined
  return Number(t.replace(/\D/g, ''))
}

/** A decimal printed with `.` or `,` before its fraction and no thousands separator. */
export function decimal(cell: string): number | undefined {
  const t = cell.trim()
  if (t.length > 40 || !/^\d+(?:[.,]\d+)?$/.test(t)) return undefined
  return Number(t.replace(',', '.'))
}

/**
 * A figure as .NET's `N2` prints it (PowerShell 7's M columns): two decimals
 * after the culture's decimal mark, groups of three before it after another
 * mark: `1,951.57` (en-US), `1.951,57` (de-DE), `1 951,57` (fr-FR), `60.65`.
 */
export function n2(cell: string): number | undefined {
  const t = cell.trim()
  const m = /^(\d{1,3}(?:([,. '\u00a0\u202f])\d{3})?(?:\2\d{3})*|\d+)([.,])(\d{2})$/.exec(t.length > 40 ? '' : t)
  if (!m || m[2] === m[3]) return undefined
  return Number(`${(m[1] as string).replace(/\D/g, '')}.${m[4]}`)
}

/** One process as a Windows listing gave it. Sizes in KiB; `command` is empty where the listing has no command line. */
export interface WinProc {
  pid: number
  ppid: number
  name: string
  rssKb: number
  vszKb: number
  command: string
}

/** Only Ollama's processes (and llama.cpp's) are traced: a listing of every process is read past for the rest. */
export function isOllamaName(name: string): boolean {
  return /ollama|llama/i.test(name)
}

/* ---------- tasklist ---------- */

/** tasklist's rule under its header: five runs of `=` (the header's words are translated, the columns are not). */
export function tasklistRule(line: string): number[] | undefined {
  if (!/^=+(?: =+){4}$/.test(line)) return undefined
  const widths = line.split(' ').map(r => r.length)
  return widths
}

/** A `Mem Usage` cell: `45,678 K` (KiB, the working set), the separator by locale. */
export function memUsage(cell: string): number | undefined {
  const m = /^(.+?) ?K$/.exec(cell.trim())
  return m ? groupedInt(m[1] as string) : undefined
}

/** A row of tasklist's table, cut at the rule's columns. */
export function tasklistRow(raw: string, widths: number[]): WinProc | string | undefined {
  const cells: string[] = []
  let at = 0
  for (const w of widths) {
    cells.push(raw.slice(at, at + w).trim())
    at += w + 1
  }
  // The last column may run past its rule (a figure wider than it).
  cells[4] = raw.slice(at - (widths[4] as number) - 1).trim()
  const [name, pid, , , mem] = cells as [string, string, string, string, string]
  if (!name || !/^\d+$/.test(pid)) return undefined
  const kb = memUsage(mem)
  if (kb === undefined) return `tasklist: Mem Usage "${mem.slice(0, 30)}" is not a figure in K; row skipped`
  return { pid: Number(pid), ppid: 0, name, rssKb: kb, vszKb: 0, command: '' }
}

/* ---------- CSV ---------- */

/** The fields of one CSV line (quoted as Windows quotes them, `""` inside), or undefined when it is not one. */
export function csvFields(line: string): string[] | undefined {
  if (line.length > 65536) return undefined
  const out: string[] = []
  let i = 0
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = ''
      i++
      for (;;) {
        const q = line.indexOf('"', i)
        if (q === -1) return undefined
        v += line.slice(i, q)
        if (line[q + 1] === '"') {
          v += '"'
          i = q + 2
          continue
        }
        i = q + 1
        break
      }
      out.push(v)
    } else {
      const c = line.indexOf(',', i)
      const end = c === -1 ? line.length : c
      const v = line.slice(i, end)
      if (v.includes('"')) return undefined
      out.push(v)
      i = end
    }
    if (i === line.length) return out
    if (line[i] !== ',') return undefined
    i++
    if (i === line.length) {
      out.push('')
      return out
    }
  }
  return out
}

/** Whether a CSV header is tasklist's (`/fo csv`): five fields, the second `PID` in every language. */
export function isTasklistCsv(fields: string[]): boolean {
  return fields.length === 5 && fields[1] === 'PID'
}

/** A row of `tasklist /fo csv`. */
export function tasklistCsvRow(f: string[]): WinProc | string | undefined {
  if (f.length !== 5 || !/^\d+$/.test(f[1] as string)) return undefined
  const kb = memUsage(f[4] as string)
  if (kb === undefined) return `tasklist: Mem Usage "${(f[4] as string).slice(0, 30)}" is not a figure in K; row skipped`
  return { pid: Number(f[1]), ppid: 0, name: f[0] as string, rssKb: kb, vszKb: 0, command: '' }
}

/** The columns of a process CSV (`ConvertTo-Csv`/`Export-Csv` of Get-Process or Win32_Process), by property name. */
export interface ProcCsvColumns {
  pid: number
  ppid?: number
  name?: number
  /** Working set in bytes (WorkingSet64, WS, WorkingSetSize). */
  ws: number
  /** Private bytes (PrivateMemorySize64, PM, PagedMemorySize64). */
  priv?: number
  command?: number
}

const PID_COLS = ['Id', 'ProcessId']
const WS_COLS = ['WorkingSet64', 'WS', 'WorkingSetSize', 'WorkingSet']
const PRIV_COLS = ['PrivateMemorySize64', 'PM', 'PagedMemorySize64', 'PrivateMemorySize']
const NAME_COLS = ['ProcessName', 'Name']

/** A process CSV's header: a PID column and a working set in bytes, at least. */
export function procCsvHeader(f: string[]): ProcCsvColumns | undefined {
  const at = (names: string[]) => {
    const i = f.findIndex(x => names.includes(x))
    return i === -1 ? undefined : i
  }
  const pid = at(PID_COLS)
  const ws = at(WS_COLS)
  if (pid === undefined || ws === undefined) return undefined
  const cols: ProcCsvColumns = { pid, ws }
  const ppid = at(['ParentProcessId'])
  const name = at(NAME_COLS)
  const priv = at(PRIV_COLS)
  const command = at(['CommandLine'])
  if (ppid !== undefined) cols.ppid = ppid
  if (name !== undefined) cols.name = name
  if (priv !== undefined) cols.priv = priv
  if (command !== undefined) cols.command = command
  return cols
}

/** A row of a process CSV; sizes are whole bytes there, given in KiB (rounded down, as tasklist and Get-Process do). */
export function procCsvRow(f: string[], c: ProcCsvColumns): WinProc | string | undefined {
  const pid = f[c.pid] ?? ''
  if (!/^\d+$/.test(pid)) return undefined
  const ws = f[c.ws] ?? ''
  if (!/^\d+$/.test(ws)) return `process CSV: working set "${ws.slice(0, 30)}" is not a whole number of bytes; row skipped`
  const priv = c.priv === undefined ? '' : (f[c.priv] ?? '')
  const command = c.command === undefined ? '' : (f[c.command] ?? '')
  const name = c.name === undefined ? '' : (f[c.name] ?? '')
  const ppid = c.ppid === undefined ? '' : (f[c.ppid] ?? '')
  return {
    pid: Number(pid),
    ppid: /^\d+$/.test(ppid) ? Number(ppid) : 0,
    name: name || firstWord(command),
    rssKb: Math.floor(Number(ws) / 1024),
    vszKb: /^\d+$/.test(priv) ? Math.floor(Number(priv) / 1024) : 0,
    command,
  }
}

function firstWord(command: string): string {
  const m = /^"([^"]+)"|^(\S+)/.exec(command)
  const path = (m?.[1] ?? m?.[2] ?? '') as string
  return path.slice(path.lastIndexOf('\\') + 1)
}

/* ---------- Get-Process ---------- */

/** Get-Process's table header: `Handles NPM(K) PM(K) WS(K) CPU(s) Id SI ProcessName` (5.1) or `NPM(M) PM(M) WS(M) CPU(s) Id SI ProcessName` (7). */
export function getProcessHeader(line: string): string[] | undefined {
  if (!line.endsWith('ProcessName') || !/\bId\b/.test(line) || !/\bWS\([KM]\)/.test(line)) return undefined
  return line.trim().split(/\s+/)
}

/**
 * A row under that header. Figures in K columns are exact KiB; in M columns
 * (PowerShell 7) MiB to two decimals with the culture's marks (`n2`), read as
 * rounded as printed. The name
 * is the rest of the line (it may hold spaces). A blank column (CPU(s) of a
 * process not one's own) leaves too few figures: the row is skipped.
 */
export function getProcessRow(line: string, cols: string[]): WinProc | string | undefined {
  // Split at ASCII blanks only: fr-FR groups thousands with a no-break space, which stays inside its figure.
  const cells = line.trim().split(/[ \t]+/)
  if (cells.length < cols.length) return cells.length > 1 && /^\d/.test(cells[0] as string) ? 'Get-Process: a row with a blank column; skipped' : undefined
  const name = cells.slice(cols.length - 1).join(' ')
  const get = (col: string) => cells[cols.indexOf(col)]
  const id = get('Id')
  if (id === undefined || !/^\d+$/.test(id)) return undefined
  const size = (col: string): number | undefined => {
    const kCell = get(`${col}(K)`)
    if (kCell !== undefined) return /^\d+$/.test(kCell) ? Number(kCell) : undefined
    const mCell = get(`${col}(M)`)
    if (mCell === undefined) return undefined
    const v = n2(mCell)
    return v === undefined ? undefined : Math.round(v * 1024)
  }
  const ws = size('WS')
  if (ws === undefined) return `Get-Process: WS "${(get('WS(K)') ?? get('WS(M)') ?? '').slice(0, 20)}" is not a figure; row skipped`
  return { pid: Number(id), ppid: 0, name, rssKb: ws, vszKb: size('PM') ?? 0, command: '' }
}

/* ---------- systeminfo ---------- */

/** systeminfo's memory lines (English), in MB (MiB), to the field each feeds. */
const SYSTEMINFO: Record<string, 'memTotalBytes' | 'availableBytes' | 'commitLimitBytes' | 'commitBytes' | undefined> = {
  'Total Physical Memory': 'memTotalBytes',
  'Available Physical Memory': 'availableBytes',
  'Virtual Memory: Max Size': 'commitLimitBytes',
  'Virtual Memory: In Use': 'commitBytes',
  'Virtual Memory: Available': undefined,
}
const SYSTEMINFO_RE = /^(Total Physical Memory|Available Physical Memory|Virtual Memory: (?:Max Size|Available|In Use)):\s+(.+)$/

/** A systeminfo memory line: its field (undefined: read, not kept) and bytes, or why not. */
export function systeminfoLine(line: string): { field: string | undefined; bytes: number } | string | undefined {
  if (line.charCodeAt(0) !== 84 /* T */ && line.charCodeAt(0) !== 65 /* A */ && line.charCodeAt(0) !== 86 /* V */) return undefined
  const m = SYSTEMINFO_RE.exec(line)
  if (!m) return undefined
  const v = /^(.+?) ?MB$/.exec(m[2] as string)
  const n = v ? groupedInt(v[1] as string) : undefined
  if (n === undefined) return `systeminfo: ${m[1]} "${(m[2] as string).slice(0, 30)}" is not a figure in MB; skipped`
  return { field: SYSTEMINFO[m[1] as string], bytes: n * 2 ** 20 }
}

/** Another `Label:   value` line of systeminfo (or one continuing a list): read past while in its listing. */
export function isSysteminfoOther(raw: string): boolean {
  return /^[A-Z][^:]{1,40}:\s{2,}\S|^[A-Z][^:]{1,40}:\s*$|^\s{20,}\S/.test(raw)
}

/** The first line of a systeminfo listing. */
export function isSysteminfoStart(line: string): boolean {
  return /^Host Name:\s+\S/.test(line)
}

/* ---------- performance counters ---------- */

/** What a counter feeds, by `object(instance)\counter` in lower case (Get-Counter prints them so); undefined: read, not kept. */
const COUNTERS: Record<string, { field: 'availableBytes' | 'commitBytes' | 'commitLimitBytes' | 'pagesPerSec' | 'pageFileUsagePct'; scale: number } | undefined> = {
  'memory\\available bytes': { field: 'availableBytes', scale: 1 },
  'memory\\available kbytes': { field: 'availableBytes', scale: 1024 },
  'memory\\available mbytes': { field: 'availableBytes', scale: 2 ** 20 },
  'memory\\committed bytes': { field: 'commitBytes', scale: 1 },
  'memory\\commit limit': { field: 'commitLimitBytes', scale: 1 },
  'memory\\pages/sec': { field: 'pagesPerSec', scale: 1 },
  'paging file(_total)\\% usage': { field: 'pageFileUsagePct', scale: 1 },
  'memory\\% committed bytes in use': undefined,
}

/** `\\HOST\Memory\Available Bytes` (or without the host) as `memory\available bytes`. */
export function counterKey(path: string): string | undefined {
  const m = /^(?:\\\\[^\\]+)?\\([^\\]+\\[^\\]+)$/.exec(path.trim())
  return m ? (m[1] as string).toLowerCase() : undefined
}

/**
 * A counter's value as a field: bytes must be whole (`1234.000000` is),
 * rates and percentages may have a fraction. `skip` says why a counter is
 * not read: one not known (another counter, or a name in another language).
 */
export function counterValue(key: string, cell: string): { field: string; value: number } | { skip: string } | undefined {
  if (!(key in COUNTERS)) return { skip: `counter \\${key} is not one memtrace reads (it reads the memory counters by their English names; a translated name is skipped)` }
  const c = COUNTERS[key]
  if (!c) return undefined
  const t = cell.trim()
  if (t === '') return undefined // typeperf's first sample of a rate
  if (c.field.endsWith('Bytes')) {
    const b = counterBytes(t)
    if (typeof b !== 'number') return { skip: `counter \\${key}: ${t.slice(0, 30)} is not a whole number of bytes; skipped` }
    return { field: c.field, value: b * c.scale }
  }
  const v = decimal(t)
  if (v === undefined) return { skip: `counter \\${key}: "${t.slice(0, 30)}" is not a figure; skipped` }
  return { field: c.field, value: v }
}

/**
 * A counter of the `GPU Process Memory` set (Windows 10 1709 on, every WDDM
 * 2 GPU: NVIDIA, AMD, Intel): one instance per process and adapter, named
 * `pid_<pid>_luid_<high>_<low>_phys_<n>` (the adapter's LUID, which changes
 * at each boot, and its physical index). Its key as `counterKey` gives it
 * (lower case); the counter's name after the instance.
 */
const ADAPTER = String.raw`luid_0x[0-9a-f]{1,8}_0x[0-9a-f]{1,8}_phys_\d{1,4}`
const GPU_PROCESS_RE = new RegExp(String.raw`^gpu process memory\(pid_(\d{1,10})_(${ADAPTER})\)\\([^\\]+)$`)
/** An adapter as the daemon labels its counters' figures (`memtrace_process_gpu_memory_bytes{gpu=…}`). */
export const ADAPTER_RE = new RegExp(`^${ADAPTER}$`)

/** A GPU Process Memory counter: the process, its adapter, and which counter (`dedicated usage`, `shared usage`, …). */
export function gpuProcessCounter(key: string): { pid: number; adapter: string; counter: string } | undefined {
  const m = GPU_PROCESS_RE.exec(key)
  return m ? { pid: Number(m[1]), adapter: m[2] as string, counter: m[3] as string } : undefined
}

/**
 * A counter's value in whole bytes: plain digits (`5469339648`), digits in
 * groups of three with one thousands separator (`5,469,339,648`; so `5,000`
 * and `5.000` are five thousand, never 5), or typeperf's six decimals of
 * zero (`5469339648.000000`, the mark by locale); `blank` for typeperf's
 * empty cell; anything else (`5,000.5`, `-5`) undefined.
 */
export function counterBytes(cell: string): number | 'blank' | undefined {
  const t = cell.trim()
  if (t === '') return 'blank'
  const grouped = groupedInt(t)
  if (grouped !== undefined) return grouped
  const m = /^(\d{1,20})[.,]0{6}$/.exec(t)
  return m ? Number(m[1]) : undefined
}

/** The counters' CSV header: `"(PDH-CSV 4.0)…"` first; the counter keys of its columns. */
export function counterCsvHeader(f: string[]): (string | undefined)[] | undefined {
  if (!(f[0] ?? '').startsWith('(PDH-CSV ')) return undefined
  return f.slice(1).map(counterKey)
}

/** Get-Counter's heading: `Timestamp   CounterSamples` (property names, never translated). */
export function isGetCounterHeader(line: string): boolean {
  return /^Timestamp\s+CounterSamples$/.test(line)
}

/** A counter path line of Get-Counter's output (`\\host\memory\available bytes :`), after any timestamp. */
export function getCounterPath(line: string): string | undefined {
  if (!line.endsWith(' :')) return undefined
  // The path starts at its host's two backslashes: one anchored match from there, never a scan from every place.
  const at = line.indexOf('\\\\')
  return at === -1 ? undefined : counterKey(line.slice(at, -2))
}
