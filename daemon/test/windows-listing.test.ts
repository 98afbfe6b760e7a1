import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROCESS_SCRIPT, ProcessTable } from '../probe/windows-procs.js'
import { GpuCounterWatch } from '../probe/gpu-counter-watch.js'
import type { ProcInfo } from '../probe/proc-linux.js'
import { selectProcesses } from '../select.js'
import { ROOT } from './helpers.js'

const FIXTURES = join(ROOT, 'daemon', 'test', 'fixtures', 'windows')
const answer = (name: string) => readFileSync(join(FIXTURES, name), 'utf8').split('\n').filter(l => l && l !== '.')

t.test("the listing's answers: the traced processes with their sizes, chosen again only when a process came or went", async t => {
  let selections = 0
  const table = new ProcessTable((all: ProcInfo[]) => {
    selections++
    return selectProcesses(all, /ollama|mlx|runner/, 1)
  })
  t.equal(table.request(true), 'm\n', 'nothing traced yet: no sizes asked for; the memory figures are')
  const first = table.read(answer('processes-switch.txt'))
  t.equal(first.bad, 0)
  t.same(first.procs.map(p => p.pid), [10236, 11872, 14520, 15304], "Ollama's app, server and both runners; not Explorer or System")
  const runner = first.procs.find(p => p.pid === 14520) as ProcInfo
  t.same({ ...runner, command: runner.command.slice(0, 60) }, {
    pid: 14520,
    ppid: 11872,
    comm: 'ollama.exe',
    rssKb: Math.floor(5_523_963_904 / 1024),
    vszKb: Math.floor(5_812_568_064 / 1024),
    command: '"C:\\Users\\Zoë Åberg\\AppData\\Local\\Programs\\Ollama\\ollama.exe',
    startTicks: Date.parse('2026-11-30T19:11:58.703Z'),
  })
  t.equal(table.request(), '10236 11872 14520 15304\n', 'the next request asks for the traced PIDs only')
  // A second with no process come or gone: sizes only, and no new choice.
  const again = table.read(['P\t10236\t48367616\t21442560', 'P\t11872\t40091648\t61440000', 'P\t14520\t6000000000\t6100000000', 'P\t15304\t17394241536\t18052894720'])
  t.equal(selections, 1)
  t.equal(again.procs.find(p => p.pid === 14520)?.rssKb, Math.floor(6_000_000_000 / 1024))
  // The first runner exits.
  const gone = table.read(['P\t10236\t48367616\t21442560', 'P\t11872\t40091648\t61440000', 'P\t15304\t17394241536\t18052894720', 'G\t14520'])
  t.equal(selections, 2)
  t.same(gone.procs.map(p => p.pid), [10236, 11872, 15304])
  t.equal(table.read(['Z\tjunk', 'P\t15304\tlots\t1']).bad, 2, 'lines not understood are counted, never read as figures')
})

t.test("an Ollama process whose command line CIM does not show (another user's, a service's) is traced by its name, and said once", async t => {
  const table = new ProcessTable(all => selectProcesses(all, /ollama/, 1))
  const r = table.read(['P\t7000\t1048576\t2097152', 'N\t7000\t4\t2026-11-30T08:00:05.0000000Z\tollama.exe\t'])
  t.same(r.procs, [{ pid: 7000, ppid: 4, comm: 'ollama.exe', rssKb: 1024, vszKb: 2048, command: '', startTicks: Date.parse('2026-11-30T08:00:05.000Z') }])
  t.match(r.hidden, /^the command line of ollama\.exe \(pid 7000\) cannot be read: it runs as another user/, 'said')
  t.equal(table.read(['P\t7001\t1\t1', 'N\t7001\t7000\t\tollama.exe\t']).hidden, undefined, 'once')
})

t.test("the GPU counters in an answer: the asked PIDs' instances with their bytes; a line in no known layout counted, never read", async t => {
  const table = new ProcessTable(all => selectProcesses(all, /ollama/, 1))
  const r = table.read([
    'W\t11/30/2026 7:12:25 PM\tDESKTOP-ZOE',
    'U\tpid_15304_luid_0x00000000_0x000095CA_phys_0\t16106127360\t104857600',
    'U\tpid_15304_luid_0x00000000_0x0000A18D_phys_1\t0\t',
    'U\tpid_15304_luid_0x00000000_0x000095CA_phys_0\t1.5e10\t0',
    'U\t_Total\t1\t1',
  ])
  t.same(r.gpu, {
    time: '11/30/2026 7:12:25 PM',
    host: 'DESKTOP-ZOE',
    rows: [
      { instance: 'pid_15304_luid_0x00000000_0x000095CA_phys_0', dedicated: '16106127360', shared: '104857600' },
      { instance: 'pid_15304_luid_0x00000000_0x0000A18D_phys_1', dedicated: '0', shared: '' },
    ],
  })
  t.equal(r.bad, 2, 'a figure that is not whole bytes, an instance of no process')
  t.equal(r.gpuError, undefined)
  const none = table.read(['X\tException calling "ReadCategory" with "0" argument(s): "Category does not exist."'])
  t.equal(none.gpu, undefined, 'no counters: no rows, not rows of zero')
  t.match(none.gpuError, /Category does not exist/)
  t.equal(none.bad, 0)
})

t.test('the GPU counters over many answers: a failure after working, the give-up and a recovery each said once, when they happen', async t => {
  const w = new GpuCounterWatch()
  const texts = (x: { text: string; recovered?: true }[]) => x.map(s => `${s.recovered ? 'notice' : 'error'}: ${s.text}`)
  t.same(w.answer(true, undefined), [], 'read: nothing to say')
  t.match(texts(w.answer(false, 'Category does not exist.')), [/^error: the GPU Process Memory counters cannot be read \(Category does not exist\.\)/], 'the first failure after working')
  t.same(w.answer(false, 'Category does not exist.'), [], 'the second: already said')
  t.match(texts(w.answer(true, undefined)), [/^notice: the GPU Process Memory counters are read again/], 'working again: said once, as a notice')
  t.same(w.answer(true, undefined), [])
  const said = [1, 2, 3].flatMap(() => texts(w.answer(false, 'Access is denied.')))
  t.equal(said.length, 2, said.join(' | '))
  t.match(said, [/cannot be read \(Access is denied\.\)/, /failed 3 times in a row: no longer asked/], 'failing, then given up at the third')
  t.same(w.answer(false, undefined), [], 'no longer asked: an answer without them says nothing')
})

t.test("the listing's script: PIDs as [long] (a Windows PID is a DWORD, past [int]'s range), the counters' read time as ISO 8601", async t => {
  t.notMatch(PROCESS_SCRIPT, /\[int\]/, 'no PID cast to [int]: one past 2^31 would throw, and be taken for the counters failing')
  t.match(PROCESS_SCRIPT, /\$want\.ContainsKey\(\[long\]\$Matches\[1\]\)/)
  t.match(PROCESS_SCRIPT, /W`t\$\(\[DateTime\]::Now\.ToString\('o'\)\)/, "the read's time with its offset, the same on every Windows locale")
})
