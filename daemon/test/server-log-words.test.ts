/**
 * The follower parses only the lines that hold a word of MAY_TELL. Every
 * line the server-log parser turns into an event, in every log of
 * core/test/fixtures/server-log (each spelling of every Ollama version,
 * llama.cpp's, MLX's and the kernel's lines), must hold one; a request's
 * lines need not.
 */
import t from 'tap'
import { ProblemLog } from '../../core/parse/problems.js'
import { ServerLogParser } from '../../core/parse/server-log.js'
import { MAY_TELL } from '../server-log-words.js'
import { serverLogFixtures } from './helpers.js'


t.test('every line the parser reads an event from holds a word of MAY_TELL', async t => {
  const files = serverLogFixtures()
  t.ok(files.length >= 20, `${files.length} fixture logs`)
  let events = 0
  for (const { name: f, lines } of files) {
    const parser = new ServerLogParser(f, new ProblemLog())
    const found = [...lines.flatMap((l, i) => parser.line(l, i + 1)), ...parser.end()]
    events += found.length
    const missed = found.filter(e => !MAY_TELL.test(lines.slice(e.line - 1, e.lastLine ?? e.line).join(''))).map(e => `line ${e.line} (${e.kind})`)
    t.same(missed, [], f)
  }
  t.ok(events > 150, `${events} events`)
})

t.test("a request's lines are passed over", async t => {
  for (const line of [
    '[GIN] 2026/12/03 - 14:00:00 | 200 |  1.734s |       127.0.0.1 | POST     "/api/chat"',
    'time=2026-12-03T14:00:00.123Z level=DEBUG source=server.go:1401 msg="completion request" images=0 prompt=1234 format=""',
    'time=2026-12-03T14:00:00.123Z level=DEBUG source=sched.go:575 msg="context for request finished"',
    'time=2026-12-03T14:00:00.123Z level=DEBUG source=sched.go:632 msg="evaluating already loaded" model=/models/blobs/sha256-ab',
  ])
    t.notOk(MAY_TELL.test(line), line)
})
