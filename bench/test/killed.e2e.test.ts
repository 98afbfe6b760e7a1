/**
 * A bench killed with SIGKILL (no handler runs) takes its server, the
 * server's runners and its daemon with it, and leaves the steps it finished
 * in results.jsonl. Against the Ollama stand-in, served through a wrapper
 * that sends its log to a file, as a service's Ollama would: a server
 * writing to the bench's pipe may die of the broken pipe by chance, and
 * Ollama often logs nothing for minutes.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { benchStepSchema, type BenchStep } from '../../schemas/index.js'
import { standinHost } from './standin-host.js'
import { BIN, memtrace } from '../../core/test/helpers.js'

const sleep = (ms: number) => new Promise(ok => setTimeout(ok, ms))

/** Processes whose command line holds `text`, by PID. */
function processes(text: string): Map<number, string> {
  const ps = spawnSync('ps', ['-axo', 'pid=,args='], { encoding: 'utf8' })
  const out = new Map<number, string>()
  for (const m of (ps.stdout ?? '').matchAll(/^\s*(\d+)\s+(.*)$/gm)) if ((m[2] as string).includes(text) && !(m[2] as string).startsWith('ps ')) out.set(Number(m[1]), m[2] as string)
  return out
}

/** Alive and not a zombie waiting for a reaper (a container's init may never reap). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return process.platform !== 'linux'
  }
}

t.test('kill -9 of a bench ends its server, runner and daemon, and keeps the steps it finished', async t => {
  const dir = t.testdir({})
  const { env } = standinHost(dir, ['qwen2.5-coder:7b'])
  const serve = join(dir, 'quiet-serve')
  writeFileSync(serve, `#!/bin/sh\nexec ollama serve >>'${join(dir, 'ollama.log')}' 2>&1\n`)
  chmodSync(serve, 0o755)
  const out = join(dir, 'out')
  const trace = join(out, 'trace')
  const bench = spawn(process.execPath, [BIN, 'bench', 'num-parallel', '--model', 'qwen2.5-coder:7b', '--num-ctx', '8192', '--max-np', '4', '--requests', '2', '--cooldown', '500ms', '--num-predict', '12', '--serve-cmd', serve, '--out', out], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let said = ''
  bench.stderr.on('data', (d: Buffer) => (said += d.toString()))
  // The bench's own command line names the folder too: it is not one of what it started.
  const mine = () => new Map([...processes(dir)].filter(([pid]) => pid !== bench.pid))
  let seen = new Map<number, string>()
  t.teardown(() => {
    // Whatever outlived the bench, for the next test's sake.
    for (const pid of [...seen.keys(), ...mine().keys()]) spawnSync('kill', ['-9', String(pid)])
    memtrace(['stop', '--dir', trace])
  })
  // Step 1 done, step 2's runner loaded: a server, a runner and the daemon are all up.
  for (let i = 0; i < 600; i++) {
    seen = mine()
    const runner = [...seen.values()].some(a => / --model \//.test(a))
    if (said.includes('NUM_PARALLEL=2: restarting') && runner && [...seen.values()].some(a => a.includes(' start --dir '))) break
    await sleep(100)
  }
  const roles = (re: RegExp) => [...seen].filter(([, a]) => re.test(a)).map(([pid]) => pid)
  const [server, runners, daemon] = [roles(/ollama serve/), roles(/ --model \//), roles(/memtrace\.js start --dir /)]
  t.equal(server.length, 1, 'the managed server is up')
  t.ok(runners.length >= 1, 'a runner is up')
  t.equal(daemon.length, 1, 'the daemon is up')
  const url = /--ollama-url (\S+)/.exec(seen.get(daemon[0] as number) ?? '')?.[1] as string

  bench.kill('SIGKILL')
  const left = () => [...server, ...runners, ...daemon].filter(alive)
  for (let i = 0; i < 300 && left().length > 0; i++) await sleep(100)
  t.same(left(), [], 'no server, runner or daemon outlived the bench')
  t.equal(await fetch(`${url}/api/version`).then(() => 'answered', () => 'refused'), 'refused', 'nothing listens on the server port')
  t.match(memtrace(['status', '--dir', trace]).stdout, /^not running/, 'the daemon was stopped as `memtrace stop` stops it')

  const steps = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map(l => JSON.parse(l) as BenchStep)
  const validate = new Ajv({ strict: false }).compile(benchStepSchema)
  t.same(steps.map(s => s.step), [1], 'the step that finished was written as it ended')
  t.ok(validate(steps[0]), JSON.stringify(validate.errors))
  t.equal(steps[0]?.outcome, 'ok')
  t.ok((steps[0]?.genTps ?? 0) > 0, 'with its speed')
  t.ok((steps[0]?.rssPeakBytes ?? 0) > 0, 'and its memory, from the trace so far')
})
