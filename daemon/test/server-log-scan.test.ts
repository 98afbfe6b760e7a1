/**
 * The follower's byte test: the lines it decodes and tests with MAY_TELL
 * must take in every line MAY_TELL finds, in any case, and a line read in
 * two parts, cut inside a character, must be kept as it was written.
 */
import t from 'tap'
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ServerLogFollower } from '../server-log.js'
import { anchoredLines } from '../server-log-scan.js'
import { MAY_TELL } from '../server-log-words.js'
import { serverLogFixtures } from './helpers.js'


/** The lines anchoredLines passes on that MAY_TELL holds, as the follower tests them. */
function looked(text: string): string[] {
  const buf = Buffer.from(text)
  const found: number[] = []
  anchoredLines(buf, 0, buf.length, found)
  const out: string[] = []
  for (let i = 0; i < found.length; i += 2) {
    const line = buf.toString('utf8', found[i], found[i + 1])
    if (MAY_TELL.test(line)) out.push(line)
  }
  return out
}

t.test('every line MAY_TELL finds in the test logs is looked at, whatever its case', async t => {
  const files = serverLogFixtures()
  t.ok(files.length >= 20, `${files.length} fixture logs`)
  let found = 0
  for (const { name: f, lines } of files) {
    for (const shape of [(l: string) => l, (l: string) => l.toUpperCase(), (l: string) => l.toLowerCase()]) {
      const text = lines.map(shape)
      const want = text.filter(l => MAY_TELL.test(l))
      found += want.length
      t.same(looked(`${text.join('\n')}\n`), want, `${f}, ${shape('Aa')}`)
    }
  }
  t.ok(found > 600, `${found} lines`)
})

t.test("a busy debug log's request lines are passed over as bytes", async t => {
  const requests = [
    '[GIN] 2026/12/03 - 14:00:00 | 200 |  1.734s |       127.0.0.1 | POST     "/api/chat"',
    'time=2026-12-03T14:00:00.123Z level=DEBUG source=server.go:1401 msg="completion request" images=0 prompt=1234 format=""',
    'time=2026-12-03T14:00:00.123Z level=DEBUG source=cache.go:104 msg="loading cache slot" id=0 cache=417 prompt=1380 used=417 remaining=963',
    'time=2026-12-03T14:00:00.123Z level=DEBUG source=sched.go:575 msg="context for request finished"',
    'time=2026-12-03T14:00:00.123Z level=DEBUG source=sched.go:632 msg="evaluating already loaded" model=/models/blobs/sha256-ab',
  ]
  const buf = Buffer.from(`${requests.join('\n')}\n`)
  const found: number[] = []
  t.equal(anchoredLines(buf, 0, buf.length, found), buf.length - 1, 'read to the last newline')
  t.same(found, [])
})

t.test('a memory line read in two parts, cut inside a character, is kept as written', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'memtrace-scan-'))
  const log = join(dir, 'server.log')
  writeFileSync(log, '')
  const line = 'time=2026-01-01T00:00:00Z level=INFO source=sched.go:1 msg="system memory" total="31.3 GiB" free="20.0 GiB" free_swap="0 B" host="café-ολλάμα"'
  const bytes = Buffer.from(`${line}\n`)
  const cut = bytes.indexOf('ά') + 1
  t.ok(cut > 0 && bytes[cut - 1]! >= 0x80 && bytes[cut]! >= 0x80, 'the cut falls inside a character')
  const out = join(dir, 'kept.log')
  const follower = new ServerLogFollower({ file: log }, out, pino({ level: 'silent' }), m => t.fail(m))
  follower.start('by-caller')
  appendFileSync(log, bytes.subarray(0, cut))
  follower.poll()
  appendFileSync(log, bytes.subarray(cut))
  follower.poll()
  await follower.stop()
  t.equal(readFileSync(out, 'utf8'), `${line}\n`)
  t.equal(follower.kept, 1)
})
