/**
 * A sweep ended by SIGTERM (or Ctrl-C) after two of its three steps keeps
 * them: two valid result lines, results.md for them saying it was
 * interrupted, and the same said on stderr. Against the Ollama stand-in's
 * simulated runner, with short settings.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { benchStepSchema, type BenchStep } from '../../schemas/index.js'
import { standinHost } from './standin-host.js'
import { BIN } from '../../core/test/helpers.js'

const sleep = (ms: number) => new Promise(ok => setTimeout(ok, ms))

t.test('SIGTERM after two of three steps leaves two valid result lines and results.md that says so', async t => {
  const dir = t.testdir({})
  const { env } = standinHost(dir, ['qwen2.5-coder:7b'])
  const out = join(dir, 'out')
  // The managed server on the port asked for.
  const srv = createServer()
  await new Promise<void>(ok => srv.listen(0, '127.0.0.1', ok))
  const port = (srv.address() as { port: number }).port
  await new Promise(ok => srv.close(ok))
  const bench = spawn(process.execPath, [BIN, 'bench', 'num-parallel', '--model', 'qwen2.5-coder:7b', '--num-ctx', '4096', '--max-np', '3', '--requests', '2', '--cooldown', '100ms', '--num-predict', '8', '--port', String(port), '--out', out], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let said = ''
  bench.stderr.on('data', (d: Buffer) => (said += d.toString()))
  const exited = new Promise<string | number | null>(ok => bench.once('exit', (code, sig) => ok(sig ?? code)))
  let answered = false
  for (let i = 0; i < 400 && !answered; i++) {
    answered = await fetch(`http://127.0.0.1:${port}/api/version`).then(r => r.ok, () => false)
    if (!answered) await sleep(50)
  }
  t.ok(answered, `the managed server answers on --port ${port}`)
  // The third step has begun: two have finished and been written.
  for (let i = 0; i < 1200 && !said.includes('NUM_PARALLEL=3: restarting'); i++) await sleep(50)
  t.match(said, /NUM_PARALLEL=3: restarting/, 'the sweep reached its third step')
  bench.kill('SIGTERM')
  t.equal(await exited, 'SIGTERM', 'it dies of the signal, as a command does')

  const lines = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n')
  const validate = new Ajv({ strict: false }).compile(benchStepSchema)
  const steps = lines.map(l => JSON.parse(l) as BenchStep)
  t.same(steps.map(s => s.step), [1, 2], 'the two steps that finished')
  for (const s of steps) {
    t.ok(validate(s), JSON.stringify(validate.errors))
    t.equal(s.outcome, 'ok')
    t.ok((s.genTps ?? 0) > 0, `NP ${s.step}: its speed`)
  }
  const md = readFileSync(join(out, 'results.md'), 'utf8')
  t.match(md, /^\*\*Interrupted\*\* \(SIGTERM\) after 2 finished steps/m, 'results.md says it was interrupted')
  t.equal((md.match(/^\| [12] \| [12] \| /gm) ?? []).length, 2, 'a row for each finished step')
  t.notMatch(md, /^Phases:/m, 'no phases named from part of a sweep')
  t.match(said, /interrupted \(SIGTERM\) after 2 finished steps/, 'and stderr says so')
})
