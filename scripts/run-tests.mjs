// Runs the compiled tests, two files at a time, and ends with the plain line "N passed, N failed".
//
// Each file is a tap test run by plain `node`: it prints its TAP stream and its own summary
// ("# { total: N, pass: N[, fail: N] … }"). Starting tap's runner once per file cost two seconds
// of CPU each, a fifth of the suite on a 2-core machine, so this script is the runner: it keeps
// tap's per-file time limit (package.json's `tap.timeout`, through TAP_TIMEOUT), prints each
// file's output whole when it ends, and lists the files that failed before the last line.
//
// Tests in a test/serial/ folder trace every Ollama-like process of the machine and judge what
// they find: no other test that starts a server or names Ollama may run beside them. Beside
// them run only "quiet" files (below); the rest wait until the serial ones are done.
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const JOBS = Math.max(1, Number(process.env.MEMTRACE_TEST_JOBS) || 2)
const TAP_TIMEOUT_S = Number(process.env.TAP_TIMEOUT) || JSON.parse(readFileSync('package.json', 'utf8')).tap?.timeout || 120
// The file's own limit fails its running test and ends it; this one ends a file that hangs anyway.
const KILL_AFTER_MS = TAP_TIMEOUT_S * 2 * 1000

const all = process.argv.length > 2 ? process.argv.slice(2) : readdirSync('dist', { recursive: true })
  .map(String)
  .filter(f => /(^|\/)test\/(serial\/)?[^/]+\.test\.js$/.test(f))
  .sort()
  .map(f => join('dist', f))

const isSerial = f => /\/test\/serial\//.test(f)
// What a serial test's daemon would see: a server a test starts, or any process whose command line
// names Ollama, MLX or a runner (the daemon's default match). A test's own command line holds its
// path, and the folders it makes hold its tests' names: a file that starts processes and names
// any of these anywhere is kept away from the serial files. Files that start no process are quiet.
const LOUD_WORDS = /ollama|mlx|runner/i
const SERVERS = /standin|ollama-decoy/i
const STARTS = /child_process|spawn|exec|fork|foreground\(|memtrace\(|\bBIN\b|macCommands/
const isQuiet = f => {
  if (LOUD_WORDS.test(f)) return false
  const code = readFileSync(f, 'utf8')
  return !SERVERS.test(code) && !(STARTS.test(code) && LOUD_WORDS.test(code))
}

const serial = all.filter(isSerial)
// End-to-end files are the long ones: started first, they do not finish alone at the end.
const byLength = (a, b) => Number(/\.e2e\./.test(b)) - Number(/\.e2e\./.test(a))
const quiet = all.filter(f => !isSerial(f) && isQuiet(f)).sort(byLength)
const loud = all.filter(f => !isSerial(f) && !isQuiet(f)).sort(byLength)

let passed = 0
let failed = 0
const failures = []
let serialRunning = 0
const running = new Set()
// The files run in their own process groups (so that a hung one is ended with all it started):
// Ctrl-C reaches them through this script.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const pid of running) try { process.kill(-pid, sig) } catch { /* gone */ }
    process.exit(130)
  })
}

function next(lane) {
  // One lane runs the serial files one after another; the others take quiet files meanwhile.
  if (lane === 0 && serial.length) return serial.shift()
  if (serial.length || serialRunning) return quiet.shift()
  return loud.shift() ?? quiet.shift()
}

function runFile(file) {
  return new Promise(resolve => {
    const started = Date.now()
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, TAP_TIMEOUT: String(TAP_TIMEOUT_S) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    running.add(child.pid)
    const out = []
    child.stdout.on('data', c => out.push(c))
    child.stderr.on('data', c => out.push(c))
    const killer = setTimeout(() => {
      out.push(Buffer.from(`\n# killed: still running after ${KILL_AFTER_MS / 1000} s\n`))
      try { process.kill(-child.pid, 'SIGKILL') } catch { /* gone */ }
    }, KILL_AFTER_MS)
    child.on('close', (code, signal) => {
      clearTimeout(killer)
      running.delete(child.pid)
      const text = Buffer.concat(out).toString()
      // The file's own summary is its last such line (subtests print none of this shape).
      const sums = [...text.matchAll(/^# \{ total: (\d+), pass: (\d+)(.*)\}$/gm)]
      const sum = sums.at(-1)
      const pass = sum ? Number(sum[2]) : 0
      const said = sum ? Number(/fail: (\d+)/.exec(sum[3])?.[1] ?? 0) : 0
      // A file that ends badly without a failed test (a crash, a kill, an exit code of its own) is one failure.
      const fail = said || (code !== 0 || !sum ? 1 : 0)
      passed += pass
      failed += fail
      const how = signal ? `killed by ${signal}` : `exit code ${code}`
      if (fail) failures.push(`${file} (${said ? `${said} failed` : sum ? how : `${how} before its summary`})`)
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      process.stdout.write(`\n# ${fail ? 'not ok' : 'ok'} ${file} (${pass} passed, ${fail} failed, ${secs} s)\n${text}`)
      resolve()
    })
  })
}

async function lane(i) {
  for (let f = next(i); f; f = next(i)) {
    if (isSerial(f)) serialRunning++
    await runFile(f)
    if (isSerial(f)) serialRunning--
  }
}

// A lane that found nothing to take while the serial files ran comes back for the rest.
async function laneUntilDone(i) {
  for (;;) {
    await lane(i)
    if (!serial.length && !serialRunning && !quiet.length && !loud.length) return
    await new Promise(r => setTimeout(r, 200))
  }
}

await Promise.all(Array.from({ length: JOBS }, (_, i) => laneUntilDone(i)))
if (failures.length) console.log(`\n# failed:\n${failures.map(f => `#   ${f}`).join('\n')}`)
console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed ? 1 : 0
