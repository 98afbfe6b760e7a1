/**
 * The stand-in's `nvidia-smi`: one GPU that is not there, whose memory is
 * what the stand-in's runners would hold on it (their size_vram) plus a
 * desktop's share. It prints the default table in the layout of drivers 570
 * and later, or the CSV of `--query-gpu=…` and `--query-compute-apps=…`,
 * so traces made with it read as a real NVIDIA host's do. Not nvidia-smi.
 */

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const MIB = 1024 * 1024
const TOTAL_MIB = 24564
const NAME = 'memtrace stand-in GPU'
const UUID = 'GPU-6d656d74-7261-4365-8000-7374616e6469'
/** What a desktop session holds on the GPU before any model (MiB). */
const DESKTOP_MIB = 412
const XORG = { pid: 1893, mib: 167 }

export interface GpuProcess {
  pid: number
  bytes: number
  exe: string
}

/**
 * Every stand-in server of this install shares the one GPU, as every process
 * of a machine shares a real one: each server writes its address into the
 * install's `run/` folder while it runs (`registerServer`), and nvidia-smi
 * asks them all.
 */
async function processes(urls: string[]): Promise<GpuProcess[]> {
  const all = await Promise.all(
    urls.map(async url => {
      try {
        const r = await fetch(`${url}/standin/gpu`, { signal: AbortSignal.timeout(2000) })
        const body = r.ok ? ((await r.json()) as unknown) : []
        return Array.isArray(body) ? (body as GpuProcess[]) : []
      } catch {
        return [] // a server gone: the GPU is still there, holding the desktop only
      }
    }),
  )
  return all.flat()
}

/** The addresses of this install's running servers. */
export function serverUrls(runDir: string): string[] {
  let names: string[] = []
  try {
    names = readdirSync(runDir).filter(n => n.startsWith('server-'))
  } catch {
    return []
  }
  const urls = names.flatMap(n => {
    // A server killed without its exit handler left its file: a dead PID's address is not asked.
    try {
      process.kill(Number(n.slice('server-'.length)), 0)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') {
        rmSync(join(runDir, n), { force: true })
        return []
      }
    }
    try {
      return [readFileSync(join(runDir, n), 'utf8').trim()]
    } catch {
      return []
    }
  })
  return [...new Set(urls)]
}

/** Writes this server's address for nvidia-smi; gone when the server exits. */
export function registerServer(runDir: string, url: string): void {
  const file = join(runDir, `server-${process.pid}`)
  try {
    mkdirSync(runDir, { recursive: true })
    writeFileSync(file, `${url}\n`)
    process.on('exit', () => rmSync(file, { force: true }))
  } catch {
    // read-only install: nvidia-smi then sees the desktop only
  }
}

const mib = (bytes: number) => Math.round(bytes / MIB)

function smiTime(d: Date): string {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()]
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()]
  const two = (n: number) => String(n).padStart(2, '0')
  return `${day} ${mon} ${String(d.getDate()).padStart(2)} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}       `
}

/** The default table, 91 columns as drivers 570 and later print it. */
export function table(procs: GpuProcess[], now = new Date()): string {
  const used = DESKTOP_MIB + procs.reduce((a, p) => a + mib(p.bytes), 0)
  const rule = '+' + '-'.repeat(89) + '+'
  const cells = '+' + '-'.repeat(41) + '+' + '-'.repeat(24) + '+' + '-'.repeat(22) + '+'
  const row = (a: string, b: string, c: string) => `|${a}|${b}|${c}|`
  const procRow = (pid: number, type: string, exe: string, m: number) => {
    const mem = `${m}MiB`
    const room = 46 - mem.length - 1
    const name = exe.length > room ? `...${exe.slice(exe.length - room + 3)}` : exe
    return `|    0   N/A  N/A ${String(pid).padStart(15)}   ${type.padStart(4)}   ${name}${' '.repeat(46 - name.length - mem.length)}${mem} |`
  }
  const lines = [
    smiTime(now),
    rule,
    '| NVIDIA-SMI 580.82.07              Driver Version: 580.82.07      CUDA Version: 13.0     |',
    cells,
    '| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |',
    '| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |',
    '|                                         |                        |               MIG M. |',
    '|' + '='.repeat(41) + '+' + '='.repeat(24) + '+' + '='.repeat(22) + '|',
    row(`   0  ${NAME.padEnd(31)}Off `, '   00000000:01:00.0  On ', '                  Off '),
    row(` 30%   41C    P8             21W /  450W `, `${`${used}MiB`.padStart(11)} / ${`${TOTAL_MIB}MiB`.padStart(9)} `, `      ${procs.length ? 35 : 0}%      Default `.slice(-22)),
    row(' '.repeat(41), ' '.repeat(24), '                  N/A '),
    cells,
    ' '.repeat(91),
    rule,
    '| Processes:' + ' '.repeat(78) + '|',
    '|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |',
    '|        ID   ID                                                               Usage      |',
    '|' + '='.repeat(89) + '|',
    procRow(XORG.pid, 'G', '/usr/lib/xorg/Xorg', XORG.mib),
    ...procs.map(p => procRow(p.pid, 'C', p.exe, mib(p.bytes))),
    rule,
  ]
  return lines.join('\n') + '\n'
}

/** `--query-gpu=index,name,memory.used,memory.total --format=csv[,noheader][,nounits]`. */
export function query(fields: string[], format: string[], procs: GpuProcess[]): string {
  const used = DESKTOP_MIB + procs.reduce((a, p) => a + mib(p.bytes), 0)
  const units = !format.includes('nounits')
  const value: Record<string, string> = {
    index: '0',
    uuid: UUID,
    name: NAME,
    'memory.used': units ? `${used} MiB` : String(used),
    'memory.total': units ? `${TOTAL_MIB} MiB` : String(TOTAL_MIB),
  }
  const head = fields.map(f => (f.startsWith('memory.') && units ? `${f} [MiB]` : f)).join(', ')
  const line = fields.map(f => value[f] ?? '[N/A]').join(', ')
  return (format.includes('noheader') ? '' : `${head}\n`) + `${line}\n`
}

/** `--query-compute-apps=gpu_uuid,pid,used_memory --format=csv[,noheader][,nounits]`: the runners, by PID. */
export function apps(fields: string[], format: string[], procs: GpuProcess[]): string {
  const units = !format.includes('nounits')
  const head = fields.map(f => (f === 'used_memory' ? `used_gpu_memory${units ? ' [MiB]' : ''}` : f)).join(', ')
  const lines = procs.map(p => {
    const value: Record<string, string> = { gpu_uuid: UUID, pid: String(p.pid), used_memory: units ? `${mib(p.bytes)} MiB` : String(mib(p.bytes)) }
    return fields.map(f => value[f] ?? '[N/A]').join(', ')
  })
  return (format.includes('noheader') ? '' : `${head}\n`) + lines.map(l => `${l}\n`).join('')
}

export async function nvidiaSmi(runDir: string, argv: string[]): Promise<number> {
  const procs = await processes(serverUrls(runDir))
  const format = (argv.find(a => a.startsWith('--format='))?.slice(9) ?? 'csv').split(',')
  const q = argv.find(a => a.startsWith('--query-gpu='))
  const a = argv.find(x => x.startsWith('--query-compute-apps='))
  if (q) process.stdout.write(query(q.slice(12).split(','), format, procs))
  else if (a) process.stdout.write(apps(a.slice(21).split(','), format, procs))
  else process.stdout.write(table(procs))
  return 0
}
