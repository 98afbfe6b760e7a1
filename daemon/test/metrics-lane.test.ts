/**
 * The scrapes' own lane (`metrics-lane.ts`): Prometheus's request, sent whole
 * on a kept-alive connection, gets the very bytes Node's HTTP server sends
 * for it, without that server; every other request is Node's server's, as
 * before.
 */
import t, { type Test } from 'tap'
import { connect, type Socket } from 'node:net'
import type { Server } from 'node:http'
import bcrypt from 'bcryptjs'
import { Metrics, serveMetrics } from '../metrics.js'
import { plainScrape } from '../metrics-lane.js'
import type { MetricsAccess } from '../metrics-access.js'

/**
 * A scrape as Prometheus sends it (Debian's Prometheus 2.42.0, read off the
 * wire): its scrape code (prometheus/scrape/scrape.go, targetScraper) sets
 * Accept, Accept-Encoding: gzip, User-Agent and the timeout header; Go's
 * client adds Host and writes it all at once.
 */
const PROMETHEUS = (port: number) =>
  `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: Prometheus/2.42.0+ds\r\nAccept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 1\r\n\r\n`

interface Answer {
  status: number
  head: string
  body: Buffer
}

/** A raw connection that reads answers one by one (`head`: the answer to a HEAD, with no body). */
function conversation(port: number) {
  const socket: Socket = connect(port, '127.0.0.1')
  let buffered = Buffer.alloc(0)
  let wake: (() => void) | undefined
  let closed = false
  socket.on('data', d => {
    buffered = Buffer.concat([buffered, d])
    wake?.()
  })
  socket.on('close', () => {
    closed = true
    wake?.()
  })
  socket.on('error', () => undefined)
  const more = () => new Promise<void>(r => (wake = r))
  return {
    socket,
    isClosed: () => closed,
    send: (text: string) => socket.write(Buffer.from(text, 'latin1')),
    async next(head = false): Promise<Answer> {
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end >= 0) {
          const headText = buffered.subarray(0, end).toString('latin1')
          const length = head ? 0 : Number(/^content-length: (\d+)$/im.exec(headText)?.[1] ?? 0)
          if (buffered.length >= end + 4 + length) {
            const body = buffered.subarray(end + 4, end + 4 + length)
            buffered = buffered.subarray(end + 4 + length)
            return { status: Number(headText.slice(9, 12)), head: headText, body }
          }
        }
        if (closed) throw new Error(`closed with ${buffered.length} bytes unread`)
        await more()
      }
    },
  }
}

/** The Date line aside: two answers a second apart differ only there. */
const undated = (head: string) => head.replace(/^Date: .*$/m, 'Date: …')

async function serving(t: Test, access?: MetricsAccess) {
  const metrics = new Metrics(1000, { version: 'test' })
  metrics.processes([{ pid: 11, ppid: 10, role: 'runner', model: 'qwen3:8b', rssBytes: 5 * 2 ** 30 }], 1000)
  const { server } = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 }, access)
  t.teardown(() => new Promise<void>(r => server.close(() => r())))
  let requests = 0
  server.on('request', () => requests++)
  const port = (server.address() as { port: number }).port
  return { metrics, server: server as Server, port, requests: () => requests }
}

t.test("Prometheus's scrape, whole in one packet, is answered without Node's server, with the bytes that server sends", async t => {
  const { metrics, port, requests } = await serving(t)
  const c = conversation(port)
  const body = await metrics.body()
  const lane: Answer[] = []
  for (let i = 0; i < 3; i++) {
    c.send(PROMETHEUS(port))
    lane.push(await c.next())
  }
  t.equal(requests(), 0, "no request reached Node's server")
  for (const a of lane) t.same(a.body, body, 'the exposition text of the last sample, as it is')
  // The same request split in two: Node's server answers it, on the same connection.
  const [first, rest] = [PROMETHEUS(port).slice(0, 20), PROMETHEUS(port).slice(20)]
  c.send(first)
  await new Promise(r => setTimeout(r, 50))
  c.send(rest)
  const node = await c.next()
  t.equal(requests(), 1, "the split request went to Node's server")
  t.equal(undated((lane[0] as Answer).head), undated(node.head), 'the same status and headers, in the same order')
  t.match(node.head, /^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/m)
  t.same(node.body, body)
  // The connection stays Node's: the next whole scrape is answered there too, alike.
  c.send(PROMETHEUS(port))
  t.equal(undated((await c.next()).head), undated(node.head))
  t.equal(requests(), 2)
  t.notOk(c.isClosed(), 'kept alive throughout')
  c.socket.destroy()
})

t.test('HEAD gets the headers alone, and the connection goes on', async t => {
  const { metrics, port, requests } = await serving(t)
  const c = conversation(port)
  c.send(PROMETHEUS(port).replace(/^GET/, 'HEAD'))
  const head = await c.next(true)
  t.equal(head.status, 200)
  t.match(head.head, new RegExp(`^content-length: ${(await metrics.body()).length}$`, 'm'))
  c.send(PROMETHEUS(port))
  const get = await c.next()
  t.equal(undated(get.head), undated(head.head), 'the GET that follows is read as a request of its own, not as a body')
  t.same(get.body, await metrics.body())
  t.equal(requests(), 0)
  c.socket.destroy()
})

t.test("what the lane leaves to Node's server is answered as before", async t => {
  const { port, requests } = await serving(t)
  const cases: { send: string; status: number[]; closes?: boolean; what: string }[] = [
    { send: 'GET /metrics HTTP/1.1\r\n\r\n', status: [400], closes: true, what: 'no Host' },
    { send: 'GET /metrics HTTP/1.0\r\n\r\n', status: [200], closes: true, what: 'HTTP/1.0' },
    { send: 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: [200], closes: true, what: 'Connection: close' },
    { send: 'GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n', status: [200], what: 'a query' },
    { send: 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab', status: [405], what: 'POST with a body' },
    { send: 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab', status: [200], what: 'GET with a body' },
    { send: 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n', status: [404], what: 'another path' },
    { send: 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', status: [200, 200], what: 'two requests in one packet' },
    { send: 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Name: caf\u00e9\r\n\r\n', status: [200], what: 'a header not in ASCII' },
  ]
  for (const k of cases) {
    t.equal(plainScrape(Buffer.from(k.send, 'latin1')), undefined, `${k.what}: not the lane's`)
    const before = requests()
    const c = conversation(port)
    c.send(k.send)
    for (const status of k.status) t.equal((await c.next()).status, status, k.what)
    if (k.closes) await new Promise<void>(r => (c.isClosed() ? r() : c.socket.once('close', () => r())))
    t.equal(c.isClosed(), Boolean(k.closes), `${k.what}: ${k.closes ? 'closed' : 'kept alive'}`)
    if (k.status[0] !== 400) t.ok(requests() > before, `${k.what}: Node's server answered`)
    c.socket.destroy()
  }
  t.equal(plainScrape(Buffer.from(PROMETHEUS(port), 'latin1')), 'GET')
  t.equal(plainScrape(Buffer.from('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9\r\nConnection: keep-alive\r\n\r\n')), 'GET', "Node's own client, kept alive")
})

t.test('with users to authenticate, a scrape without credentials is refused, one with them answered', async t => {
  const users = new Map([['prometheus', bcrypt.hashSync('secret', 4)]])
  const access: MetricsAccess = { users, reread: () => access }
  const { port } = await serving(t, access)
  const refused = conversation(port)
  refused.send(PROMETHEUS(port))
  t.equal((await refused.next()).status, 401)
  refused.socket.destroy()
  const c = conversation(port)
  c.send(PROMETHEUS(port).replace('\r\n\r\n', `\r\nAuthorization: Basic ${Buffer.from('prometheus:secret').toString('base64')}\r\n\r\n`))
  t.equal((await c.next()).status, 200)
  c.socket.destroy()
})

t.test("close() closes the lane's idle connections at once, not at their keep-alive's end", async t => {
  const { port, server } = await serving(t)
  const c = conversation(port)
  c.send(PROMETHEUS(port))
  t.equal((await c.next()).status, 200)
  const closed = new Promise(r => c.socket.once('close', () => r('closed')))
  server.close()
  const first = await Promise.race([closed, new Promise(r => setTimeout(() => r('kept'), server.keepAliveTimeout / 2))])
  t.equal(first, 'closed', 'the idle connection was closed with the server')
})
