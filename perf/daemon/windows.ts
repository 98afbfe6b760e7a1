/**
 * A simulated Windows host for `make bench`: the daemon's Windows path
 * (MEMTRACE_PLATFORM=win32) with MEMTRACE_WINDOWS_BIN's stand-ins for
 * PowerShell and typeperf, on a host of 500 processes, the two runners'
 * GPU counters answered with the memory figures. What is measured is
 * the daemon's own process: the stand-ins are not Windows' programs, and
 * their cost says nothing of PowerShell's or typeperf's (docs/daemon.md, "On
 * Windows", lists that among what a real Windows machine must confirm).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const APP = 'C:\\Users\\Zoë Åberg\\AppData\\Local\\Programs\\Ollama'
const BLOB = 'C:\\Users\\Zoë Åberg\\.ollama\\models\\blobs\\sha256-'

/** The listing script's answer for `processes` processes: Ollama's server and two runners among them. */
function listing(processes: number): string {
  const n: string[] = []
  const p: string[] = []
  const add = (pid: number, ppid: number, image: string, command: string, ws: number) => {
    n.push(`N\t${pid}\t${ppid}\t2026-11-30T08:02:${String(pid % 60).padStart(2, '0')}.1250000Z\t${image}\t${command}`)
    p.push(`P\t${pid}\t${ws}\t${Math.round(ws * 1.1)}`)
  }
  add(11872, 10236, 'ollama.exe', `"${APP}\\ollama.exe" serve`, 40_091_648)
  add(14520, 11872, 'ollama.exe', `"${APP}\\ollama.exe" runner --ollama-engine --model "${BLOB}${'ab'.repeat(32)}" --port 50217`, 5_523_963_904)
  add(15304, 11872, 'ollama.exe', `"${APP}\\ollama.exe" runner --ollama-engine --model "${BLOB}${'cd'.repeat(32)}" --port 50342`, 17_394_241_536)
  for (let i = 3; i < processes; i++) add(20_000 + i * 4, 6120, 'svchost.exe', 'C:\\WINDOWS\\system32\\svchost.exe -k netsvcs -p -s Schedule', 12_345_678 + i * 4096)
  return `${n.join('\n')}\n${p.join('\n')}\n.\n`
}

/** Writes the stand-ins under `dir`; returns the environment that makes the daemon use them. */
export function simulatedWindows(dir: string, processes = 500): NodeJS.ProcessEnv {
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  // The first answer: every process new. Later ones: the sizes asked for (no process comes or goes).
  const first = join(dir, 'first.txt')
  writeFileSync(first, listing(processes))
  const program = (name: string, body: string) => {
    writeFileSync(join(dir, `${name}.cjs`), `const fs = require('fs')\n${body}\n`)
    writeFileSync(join(bin, name), `#!/bin/sh\nexec '${process.execPath}' '${join(dir, `${name}.cjs`)}' "$@"\n`)
    chmodSync(join(bin, name), 0o755)
  }
  program(
    'powershell.exe',
    `const args = process.argv.slice(2)
const script = Buffer.from(args[args.indexOf('-EncodedCommand') + 1] || '', 'base64').toString('utf16le')
if (!script.includes('[Console]::In.ReadLine()')) {
  const m = /ProcessId=(\\d+)/.exec(script)
  try { process.kill(Number(m && m[1]), 0) } catch { process.exit(1) }
  process.stdout.write('2026-11-30T19:11:40.8281250Z\\r\\n')
} else {
  const all = fs.readFileSync(${JSON.stringify(first)}, 'utf8')
  const sizes = new Map(all.split('\\n').filter(l => l.startsWith('P\\t')).map(l => [l.split('\\t')[1], l + '\\n']))
  let first = true
  let buf = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', d => {
    buf += d
    for (let nl; (nl = buf.indexOf('\\n')) !== -1; buf = buf.slice(nl + 1)) {
      const req = buf.slice(0, nl).split(' ')
      // With the memory figures, the GPU counters of the asked PIDs: each runner on two adapters.
      const gpu = req.filter(p => p === '14520' || p === '15304').map(p => 'U\\tpid_' + p + '_luid_0x00000000_0x000095CA_phys_0\\t4915724288\\t117440512\\nU\\tpid_' + p + '_luid_0x00000000_0x0000A18D_phys_0\\t134217728\\t8388608\\n').join('')
      const mem = req[0] === 'm' ? 'M\\t33342848\\t23745632\\t38324224\\t26129440\\nW\\t11/30/2026 7:12:05 PM\\tDESKTOP-ZOE\\n' + gpu : ''
      process.stdout.write(mem + (first ? all : req.map(p => sizes.get(p) || '').join('') + '.\\n'))
      first = false
    }
  })
  process.stdin.on('end', () => process.exit(0))
}`,
  )
  program(
    'typeperf.exe',
    `const host = '\\\\\\\\DESKTOP-ZOE'
process.stdout.write('\\r\\n"(PDH-CSV 4.0)",' + process.argv.slice(2, -2).map(c => '"' + host + c + '"').join(',') + '\\r\\n')
setInterval(() => process.stdout.write('"11/30/2026 19:12:00.412","24319316480.000000","15330451456.000000","39244005376.000000","3.117546","12.949561"\\r\\n'), 1000)`,
  )
  return { MEMTRACE_PLATFORM: 'win32', MEMTRACE_WINDOWS_BIN: bin }
}
