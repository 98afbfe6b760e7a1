// Runs tap over the compiled tests and ends with the plain line
// "N passed, N failed" (tap's own summary is an object literal).
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

// Compiled tests live beside the code they test: dist/<part>/test/*.test.js.
const files = readdirSync('dist', { recursive: true })
  .map(String)
  .filter(f => /(^|\/)test\/(serial\/)?[^/]+\.test\.js$/.test(f))
  .sort()
  .map(f => join('dist', f))
const args = process.argv.length > 2 ? process.argv.slice(2) : files
// Two files at a time: most of the suite waits on daemons, servers and sleeps, not on the CPU (tap would take one on a
// 2-core machine). Tests in a test/serial/ folder trace every process of the machine and judge what they find: they run alone.
const serial = ['dist/daemon/test/serial']
const child = spawn('npx', ['tap', '--reporter=tap', '--jobs=2', ...serial.map(d => `--serial=${d}`), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
let pass = 0
let fail = 0
let tail = ''
child.stdout.on('data', chunk => {
  process.stdout.write(chunk)
  const text = tail + chunk.toString()
  const lines = text.split('\n')
  tail = lines.pop() ?? ''
  for (const line of lines) count(line)
})
let total = -1
// tap closes with "# { total: N, pass: N[, fail: N][, skip: N] }".
function count(line) {
  const m = /^# \{ total: (\d+), pass: (\d+)(.*)\}/.exec(line.trim())
  if (!m) return
  total = Number(m[1])
  pass = Number(m[2])
  fail = Number(/fail: (\d+)/.exec(m[3])?.[1] ?? 0)
}
child.on('close', code => {
  if (tail) count(tail)
  if (total < 0) {
    console.log('0 passed, 1 failed')
    console.error('tap printed no summary')
    process.exitCode = 1
    return
  }
  if (code !== 0 && fail === 0) fail = Math.max(1, total - pass)
  console.log(`${pass} passed, ${fail} failed`)
  process.exitCode = code === 0 && fail === 0 ? 0 : 1
})
