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
import { sep } from 'node:path'

const JOBS = Math.max(1, Number(process.env.MEMTRACE_TEST_JOBS) || 2)
// TAP_TIMEOUT=0 is tap's "no limit"; unset, package.json's `tap.timeout` holds.
const TAP_TIMEOUT_S = process.env.TAP_TIMEOUT ? Number(process.env.TAP_TIMEOUT) : JSON.parse(readFileSync('package.json', 'utf8')).tap?.timeout ?? 120
// The file's own limit fails its running test and ends it; this one ends a file that hangs anyway.
const KILL_AFTER_MS = TAP_TIMEOUT_S * 2 * 1000
// How long a file's output may stay open after the file has exited (a process it left behind holding it).
const CLOSE_GRACE_MS = 5000

const compiled = readdirSync('dist', { recursive: true }).map(f => String(f).split(sep).join('/'))
const all = process.argv.length > 2 ? process.argv.slice(2) : compiled
  .filter(f => /(^|\/)test\/(serial\/)?[^/]+\.test\.js$/.test(f))
  .sort()
  .map(f => `dist/${f}`)
if (all.length === 0) {
  console.log('no test files found under dist/ (is the project built?)\n0 passed, 1 failed')
  process.exit(1)
}
// A test file where none is looked for would never run: said, so that it is moved or the pattern widened.
for (const f of compiled) if (/\.test\.js$/.test(f) && !/(^|\/)test\/(serial\/)?[^/]+\.test\.js$/.test(f)) console.log(`# not run: dist/${f} is outside a test/ or test/serial/ folder`)

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
/** Process groups of the files running (each file runs in its own, so that a hung one is ended with all it started). */
const running = new Set()
let stopping = false
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }
for (const [sig, n] of Object.entries(SIGNALS)) {
  process.on(sig, () => {
    if (stopping) return
    stopping = true
    // Passed on to the files, whose output is printed as they end; anything left after 10 s is killed.
    console.log(`\n# ${sig}: stopping the ${running.size} file(s) running`)
    for (const pid of running) try { process.kill(-pid, sig) } catch { /* gone */ }
    setTimeout(() => {
      for (const pid of running) try { process.kill(-pid, 'SIGKILL') } catch { /* gone */ }
      process.exit(128 + n)
    }, 10_000).unref()
    lanesDone.then(() => {
      report()
      process.exit(128 + n)
    })
  })
}

function next(lane) {
  if (stopping) return undefined
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
    const group = child.pid
    running.add(group)
    const out = []
    const note = text => out.push(Buffer.from(`\n# ${text}\n`))
    child.stdout.on('data', c => out.push(c))
    child.stderr.on('data', c => out.push(c))
    const killer = TAP_TIMEOUT_S > 0 ? setTimeout(() => {
      note(`killed: still running after ${KILL_AFTER_MS / 1000} s`)
      try { process.kill(-group, 'SIGKILL') } catch { /* gone */ }
    }, KILL_AFTER_MS) : undefined
    let exit
    let heldOpen = false
    let grace
    child.on('exit', (code, signal) => {
      exit = { code, signal }
      clearTimeout(killer)
      // What the file started in its own group and left running is ended with it.
      try {
        process.kill(-group, 0)
        note('left processes running in its group: ended')
        process.kill(-group, 'SIGKILL')
      } catch { /* none left */ }
      // A process in a session of its own that holds the output open is not waited for.
      grace = setTimeout(() => {
        heldOpen = true
        note(`left a process holding its output open ${CLOSE_GRACE_MS / 1000} s after it exited`)
        child.stdout.destroy()
        child.stderr.destroy()
        finish()
      }, CLOSE_GRACE_MS)
    })
    child.on('close', () => finish())
    let finished = false
    function finish() {
      if (finished || !exit) return
      finished = true
      clearTimeout(grace)
      running.delete(group)
      const { code, signal } = exit
      const text = Buffer.concat(out).toString()
      // The file's own summary is its last such line (subtests print none of this shape).
      const sum = [...text.matchAll(/^# \{ total: (\d+), pass: (\d+)(.*)\}$/gm)].at(-1)
      const pass = sum ? Number(sum[2]) : 0
      const said = sum ? Number(/fail: (\d+)/.exec(sum[3])?.[1] ?? 0) : 0
      // A file that ends badly without a failed test (a crash, a kill, an exit code of its own, its output held open) is one failure.
      const fail = said || (code !== 0 || !sum || heldOpen ? 1 : 0)
      passed += pass
      failed += fail
      const how = heldOpen ? 'a process it left held its output open' : signal ? `killed by ${signal}` : `exit code ${code}`
      if (fail) failures.push(`${file} (${said ? `${said} failed` : sum ? how : `${how} before its summary`})`)
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      process.stdout.write(`\n# ${fail ? 'not ok' : 'ok'} ${file} (${pass} passed, ${fail} failed, ${secs} s)\n${text}`)
      resolve()
    }
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
    if (stopping || (!serial.length && !serialRunning && !quiet.length && !loud.length)) return
    await new Promise(r => setTimeout(r, 200))
  }
}

const lanesDone = Promise.all(Array.from({ length: JOBS }, (_, i) => laneUntilDone(i)))

function report() {
  if (failures.length) console.log(`\n# failed:\n${failures.map(f => `#   ${f}`).join('\n')}`)
  console.log(`${passed} passed, ${failed} failed`)
}

await lanesDone
// Stopped by a signal: its handler reports and exits.
if (!stopping) {
  report()
  process.exitCode = failed ? 1 : 0
}
