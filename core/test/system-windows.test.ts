/**
 * Process listings Windows users paste into a block (tasklist, Get-Process, a
 * process CSV): the rows of Ollama's processes become the block's process
 * samples, each size exact or the row reported. Layouts are those of the
 * commands' documentation and of public pastes (fixtures/system/windows/README.md).
 */
import t from 'tap'
import { block, parseSys } from './helpers.js'

const procsOf = (body: string) => {
  const { blocks, problems } = parseSys(`===== 2026-11-30T19:19:00Z =====\n${body}\n`)
  return { procs: blocks[0]!.procs ?? [], sample: blocks[0]!.sample, problems }
}

const RULE = '========================= ======== ================ =========== ============'

t.test('tasklist (en-US): the rows of Ollama processes, Mem Usage in KiB, names with spaces whole', async t => {
  const { procs, problems, sample } = procsOf(
    [
      '',
      'Image Name                     PID Session Name        Session#    Mem Usage',
      RULE,
      'System Idle Process              0 Services                   0          8 K',
      'svchost.exe                   1184 Services                   0     31,512 K',
      'ollama app.exe               10236 Console                    1     47,236 K',
      'ollama.exe                   11872 Console                    1     62,108 K',
      'ollama_llama_server.exe      14520 Console                    1  1,998,412 K',
    ].join('\n'),
  )
  t.same(
    procs.map(p => [p.name, p.pid, p.rssKb]),
    [
      ['ollama app.exe', 10236, 47236],
      ['ollama.exe', 11872, 62108],
      ['ollama_llama_server.exe', 14520, 1998412],
    ],
  )
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.same(sample.sections, ['tasklist'])
  t.equal(sample.platform, 'unknown', 'a process listing alone says nothing of system memory')
})

t.test("tasklist in other locales: the header translated, the thousands separator the locale's", async t => {
  const de = procsOf(['Abbildname                     PID Sitzungsname       Sitz.-Nr. Speichernutzung', RULE, 'ollama.exe                   11872 Console                    1     62.108 K'].join('\n'))
  t.same(de.procs.map(p => p.rssKb), [62108], 'de-DE: a dot between thousands')
  const fr = procsOf(['Nom de l’image                 PID Nom de la session Numéro de s Utilisation', RULE, 'ollama.exe                   11872 Console                    1  1\u202f998\u202f412 K'].join('\n'))
  t.same(fr.procs.map(p => p.rssKb), [1998412], 'fr-FR: a narrow no-break space between thousands')
  const ch = procsOf(['Image Name                     PID Session Name        Session#    Mem Usage', RULE, "ollama.exe                   11872 Console                    1  1'998'412 K"].join('\n'))
  t.same(ch.procs.map(p => p.rssKb), [1998412], "de-CH: an apostrophe between thousands")
})

t.test('tasklist: a Mem Usage that is no figure in K is reported, never misread', async t => {
  const { procs, problems } = procsOf(
    ['Image Name                     PID Session Name        Session#    Mem Usage', RULE, 'ollama.exe                   11872 Console                    1  1,998.412 K', 'ollama.exe                   11873 Console                    1      1.9 GB'].join('\n'),
  )
  t.same(procs, [])
  t.equal(problems.count('bad-value'), 2, problems.summary().join('; '))
})

t.test('tasklist /fo csv', async t => {
  const { procs, problems } = procsOf(['"Image Name","PID","Session Name","Session#","Mem Usage"', '"svchost.exe","1184","Services","0","31,512 K"', '"ollama.exe","11872","Console","1","62,108 K"'].join('\n'))
  t.same(procs.map(p => [p.name, p.pid, p.rssKb]), [['ollama.exe', 11872, 62108]])
  t.equal(problems.total, 0)
})

t.test("Get-Process of PowerShell 5.1: K columns, WS is the working set and PM the private bytes", async t => {
  const { procs, problems, sample } = procsOf(
    [
      'Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName',
      '-------  ------    -----      -----     ------     --  -- -----------',
      '    412      28    21840      47236       0.52  10236   1 ollama app',
      '    388      31   183412      62108       4.13  11872   1 ollama',
      '    201      19  2281500    1998412      88.03  14520   1 ollama_llama_server',
    ].join('\n'),
  )
  t.same(procs.map(p => [p.name, p.pid, p.rssKb, p.vszKb]), [
    ['ollama app', 10236, 47236, 21840],
    ['ollama', 11872, 62108, 183412],
    ['ollama_llama_server', 14520, 1998412, 2281500],
  ])
  t.equal(problems.total, 0, problems.summary().join('; '))
  t.same(sample.sections, ['get-process'])
})

t.test("Get-Process of PowerShell 7: M columns as N2 (the culture's group and decimal marks), read as rounded as printed", async t => {
  const { procs, problems } = procsOf(
    [
      ' NPM(M)    PM(M)      WS(M)     CPU(s)      Id  SI ProcessName',
      ' ------    -----      -----     ------      --  -- -----------',
      '  31,00   179,11      60,65       4,13   11872   1 ollama',
      '  19.00 2,228.03   1,951.57      88.03   14520   1 ollama',
      '  19,00 2.228,03   1.951,57      88,03   14521   1 ollama',
      '  19,00 2\u202f228,03 1\u202f951,57     88,03   14522   1 ollama',
    ].join('\n'),
  )
  t.same(procs.map(p => [p.pid, p.rssKb, p.vszKb]), [
    [11872, Math.round(60.65 * 1024), Math.round(179.11 * 1024)],
    [14520, Math.round(1951.57 * 1024), Math.round(2228.03 * 1024)],
    [14521, Math.round(1951.57 * 1024), Math.round(2228.03 * 1024)],
    [14522, Math.round(1951.57 * 1024), Math.round(2228.03 * 1024)],
  ])
  const odd = procsOf([' NPM(M)    PM(M)      WS(M)     CPU(s)      Id  SI ProcessName', '  19.00  2228.03    1,951,57      88.03   14520   1 ollama', '  19.00  2228.03      1951.5      88.03   14521   1 ollama'].join('\n'))
  t.same(odd.procs, [], 'one mark for both groups and decimals, or one decimal: not N2, not read')
  t.equal(odd.problems.count('bad-value'), 2)
  t.equal(problems.total, 0)
})

t.test('Get-Process: a row with a blank CPU(s) (a process of another user) is reported, not shifted', async t => {
  const { procs, problems } = procsOf(['Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName', '-------  ------    -----      -----     ------     --  -- -----------', '    388      31   183412      62108              11872   0 ollama'].join('\n'))
  t.same(procs, [])
  t.equal(problems.count('bad-value'), 1)
})

t.test('a process CSV (ConvertTo-Csv of Win32_Process): parent, working set in bytes, the command line with its quotes', async t => {
  const cmd = '"C:\\Users\\Dana Lee\\AppData\\Local\\Programs\\Ollama\\ollama.exe" runner --ollama-engine --model "C:\\Users\\Dana Lee\\.ollama\\models\\blobs\\sha256-667b0c1932bc6ffc593ed1d03f895bf2dc8dc6df21db3042284a6f4416b06a29" --port 50217'
  const { procs, problems, sample } = procsOf(['"ProcessId","ParentProcessId","Name","WorkingSetSize","CommandLine"', `"14520","11872","ollama.exe","2046386176","${cmd.replaceAll('"', '""')}"`, '"1184","700","svchost.exe","32268288","C:\\WINDOWS\\system32\\svchost.exe -k netsvcs"'].join('\n'))
  t.same(procs.map(p => [p.pid, p.ppid, p.name, p.rssKb, p.command]), [[14520, 11872, 'ollama.exe', 2046386176 / 1024, cmd]])
  t.equal(problems.total, 0)
  t.same(sample.sections, ['process-csv'])
})

t.test('two listings in one block: the last is kept and the repeat reported', async t => {
  const one = ['"Image Name","PID","Session Name","Session#","Mem Usage"', '"ollama.exe","11872","Console","1","62,108 K"']
  const two = ['"Image Name","PID","Session Name","Session#","Mem Usage"', '"ollama.exe","11872","Console","1","63,000 K"']
  const { procs, problems } = procsOf([...one, '', ...two].join('\n'))
  t.same(procs.map(p => p.rssKb), [63000])
  t.equal(problems.count('duplicate'), 1)
})

t.test('a block of Linux and macOS sections gives no process rows', async t => {
  const { sample } = block('MemTotal:       32768000 kB\nMemAvailable:   16384000 kB')
  t.equal(sample.platform, 'linux')
  t.same(procsOf('MemTotal:       32768000 kB').procs, [])
})

t.test("systeminfo's other lines are read past only inside a whole systeminfo listing", async t => {
  const findstr = block('Total Physical Memory:     32,562 MB\nAvailable Physical Memory: 19,204 MB\nMemTotal:       32768000 kB\nMemAvailable:   16384000 kB')
  t.equal(findstr.sample.meminfo?.MemTotal, 32768000 * 1024, 'a meminfo line after findstr output is meminfo, not swallowed')
  const whole = block('Host Name:                 DESKTOP-7Q2L9KD\nTotal Physical Memory:     32,562 MB\nDomain:                    WORKGROUP')
  t.equal(whole.problems.total, 0)
  t.equal(whole.sample.memTotalBytes, 32562 * 2 ** 20)
})

t.test('hostile rows: overflowing figures, unclosed quotes, a path of backslashes: reported or read past, never a figure', async t => {
  const huge = '9'.repeat(400)
  const { procs, problems, sample } = procsOf(
    [
      '"ProcessId","ParentProcessId","Name","WorkingSetSize","CommandLine"',
      `"${huge}","1","ollama.exe","1024","ollama.exe serve"`,
      `"12","1","ollama.exe","${huge}","ollama.exe serve"`,
      '"13","1","ollama.exe","1024","ollama.exe serve',
      '',
      'Timestamp                 CounterSamples',
      '---------                 --------------',
      `11/30/2026 7:19:00 PM     ${'\\'.repeat(3000)} :`,
      '                          \\\\h\\memory\\available bytes :',
      `                          ${huge}`,
    ].join('\n'),
  )
  t.same(procs, [])
  t.equal(sample.availableBytes, undefined)
  t.equal(problems.count('bad-value'), 2, 'the two overflowing rows')
  // The unclosed row ends the listing; the path of backslashes ends Get-Counter's view: each line after is reported.
  t.equal(problems.count('unrecognised-line'), 4, problems.summary().join('; '))
})
