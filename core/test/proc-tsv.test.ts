import t from 'tap'
import { parseProc } from './helpers.js'

const H = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\n'

t.test('reads the seed awk rows: command with spaces, macOS full-path comm', async t => {
  const { rows, problems } = parseProc(
    H +
      '2026-02-25T14:03:12Z\t4412\t812\t/Applications/Ollama.app/Contents/Resources/ollama\t5862400\t445678912\t/Applications/Ollama.app/Contents/Resources/ollama runner --mlx-engine --model qwen3:8b --port 50123\n' +
      '2026-02-25T14:03:12Z\t812\t1\tollama\t61234\t41234567\t/usr/local/bin/ollama serve\n',
  )
  t.equal(problems.total, 0)
  t.equal(rows.length, 2)
  const r = rows[0]!.sample
  t.equal(r.pid, 4412)
  t.equal(r.ppid, 812)
  t.equal(r.comm, '/Applications/Ollama.app/Contents/Resources/ollama')
  t.equal(r.rssKb, 5862400)
  t.equal(r.command, '/Applications/Ollama.app/Contents/Resources/ollama runner --mlx-engine --model qwen3:8b --port 50123')
  t.equal(rows[0]!.tsMs, Date.UTC(2026, 1, 25, 14, 3, 12))
})

t.test('Linux 15-character comm and an empty command', async t => {
  const { rows, problems } = parseProc(H + '2026-02-25T14:03:12Z\t9\t1\tollama_llama_se\t100\t200\t\n')
  t.equal(problems.total, 0)
  t.equal(rows[0]!.sample.comm, 'ollama_llama_se')
  t.equal(rows[0]!.sample.command, '')
})

t.test('CRLF line ends are accepted', async t => {
  const { rows, problems } = parseProc(H.replace('\n', '\r\n') + '2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\tollama serve\r\n')
  t.equal(problems.total, 0)
  t.equal(rows[0]!.sample.command, 'ollama serve')
})

t.test('a truncated last line is skipped and reported; earlier rows kept', async t => {
  const { rows, problems } = parseProc(H + '2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\tollama serve\n2026-02-25T14:03:13Z\t9\t1\tollama\t10')
  t.equal(rows.length, 1)
  t.equal(problems.count('truncated-line'), 1)
  t.match(problems.summary()[0], /p\.tsv: 1 truncated-line \(line 3\)/)
})

t.test('junk lines, bad numbers and bad times are counted, parsing goes on', async t => {
  const { rows, problems } = parseProc(
    H +
      'garbage here\n' +
      '2026-02-25T14:03:12Z\tx\t1\tollama\t100\t200\tollama serve\n' +
      'yesterday\t9\t1\tollama\t100\t200\tollama serve\n' +
      '2026-02-25T14:03:13Z\t9\t1\tollama\t100\t200\tollama serve\n' +
      '\u0000\u0001binary\tstuff\n',
  )
  t.equal(rows.length, 1)
  t.equal(problems.count('bad-row'), 3)
  t.equal(problems.count('bad-timestamp'), 1)
})

t.test('time going backwards is reported and the row kept', async t => {
  const { rows, problems } = parseProc(
    H + '2026-02-25T14:03:13Z\t9\t1\tollama\t100\t200\ta\n' + '2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\ta\n',
  )
  t.equal(rows.length, 2)
  t.equal(problems.count('out-of-order'), 1)
})

t.test('a wrong header is reported; rows still read', async t => {
  const { rows, problems, parser } = parseProc('ts pid ppid comm rss vsz command\n2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\ta\n')
  t.equal(rows.length, 1)
  t.equal(problems.count('bad-header'), 1)
  t.ok(parser.sawHeader)
})

t.test('a header repeated mid-file (two traces concatenated) is fine', async t => {
  const { rows, problems } = parseProc(H + '2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\ta\n' + H + '2026-02-25T14:03:13Z\t9\t1\tollama\t100\t200\ta\n')
  t.equal(rows.length, 2)
  t.equal(problems.total, 0)
})

t.test('a command holding tabs keeps them', async t => {
  const { rows } = parseProc(H + '2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\ta\tb\tc\n')
  t.equal(rows[0]!.sample.command, 'a\tb\tc')
})

t.test('fractional seconds and offsets are read; a zone-less time is refused', async t => {
  const { rows, problems } = parseProc(
    H +
      '2026-02-25T14:03:12.250Z\t9\t1\tollama\t1\t2\ta\n' +
      '2026-02-25T15:03:13+01:00\t9\t1\tollama\t1\t2\ta\n' +
      '2026-02-25T14:03:14\t9\t1\tollama\t1\t2\ta\n',
  )
  t.equal(rows[0]!.tsMs, Date.UTC(2026, 1, 25, 14, 3, 12, 250))
  t.equal(rows[1]!.tsMs, Date.UTC(2026, 1, 25, 14, 3, 13))
  t.equal(problems.count('bad-timestamp'), 1)
})

t.test('format 2: a row without its command has its PID\'s last one; format 1 is read as before', async t => {
  const H2 = 'ts\tpid\tppid\tcomm\trss_kb\tvsz_kb\tcommand\tv2\n'
  const { rows, problems } = parseProc(
    H2 +
      '2026-02-25T14:03:12Z\t812\t1\tollama\t61234\t41234567\t/usr/local/bin/ollama serve\n' +
      '2026-02-25T14:03:12Z\t4412\t812\tollama\t5862400\t445678912\t/usr/local/bin/ollama runner --model /m/blobs/sha256-ab --port 50123\n' +
      '2026-02-25T14:03:13Z\t812\t1\tollama\t61240\t41234567\n' +
      '2026-02-25T14:03:13Z\t4412\t812\tollama\t5862500\t445678912\n' +
      '2026-02-25T14:03:14Z\t4412\t812\tollama\t5862600\t445678912\t/usr/local/bin/ollama runner --model /m/blobs/sha256-cd --port 50124\n' +
      '2026-02-25T14:03:15Z\t4412\t812\tollama\t5862700\t445678912\n',
  )
  t.equal(problems.total, 0, 'the header of format 2 is known')
  t.same(rows.map(r => r.sample.command), [
    '/usr/local/bin/ollama serve',
    '/usr/local/bin/ollama runner --model /m/blobs/sha256-ab --port 50123',
    '/usr/local/bin/ollama serve',
    '/usr/local/bin/ollama runner --model /m/blobs/sha256-ab --port 50123',
    '/usr/local/bin/ollama runner --model /m/blobs/sha256-cd --port 50124',
    '/usr/local/bin/ollama runner --model /m/blobs/sha256-cd --port 50124',
  ])
  // In format 1 a row with six columns has an empty command, as it always had; a second file's header starts afresh.
  const old = parseProc(H + '2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\tollama serve\n2026-02-25T14:03:13Z\t9\t1\tollama\t100\t200\n')
  t.same(old.rows.map(r => r.sample.command), ['ollama serve', ''])
  const joined = parseProc(H2 + '2026-02-25T14:03:12Z\t9\t1\tollama\t100\t200\tollama serve\n' + H2 + '2026-02-25T14:04:12Z\t9\t1\tollama\t100\t200\n')
  t.same(joined.rows.map(r => r.sample.command), ['ollama serve', ''], 'each file reads on its own')
})
