/**
 * The scrape Prometheus makes, answered without Node's HTTP machinery.
 *
 * A scraper keeps its connection alive and sends, every interval, the same
 * small request: `GET /metrics HTTP/1.1`, a Host and a few plain headers, no
 * body, in one packet. Node's HTTP server spends about 0.2 ms of the thread
 * that also samples on each (a parser's callbacks, a request and a response
 * object, their streams and events), three times the cost of writing the
 * answer; with 50 scrapes a second that doubled the daemon's CPU. Here such a
 * request, arriving whole in one read, is answered with bytes made once per
 * sample and second: the very bytes Node's server would send (the status,
 * the same headers in the same order, the Date, the keep-alive), the body
 * as it is, never compressed.
 *
 * Anything else goes to Node's server with what was read of it, and the
 * connection stays there: another path, method or version, a query, a body,
 * an upgrade, `Connection: close`, a request split over several reads or
 * sent behind another, a header that is not plain ASCII, TLS, and any
 * request while users must authenticate. So errors, 404s, 401s and the
 * header and request timeouts are Node's own.
 */
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/** What the lane answers with. */
export interface LaneSource {
  /** The body of the last sample (the same promise until the next). */
  body: () => Promise<Buffer>
  contentType: string
  /** Whether a request may be answered here: false while users must authenticate. */
  open: () => boolean
}

/** A whole request with no body: GET or HEAD of /metrics over HTTP/1.1, headers of printable ASCII, nothing after. */
const SCRAPE = /^(GET|HEAD) \/metrics HTTP\/1\.1\r\n((?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e]*\r\n)*)\r\n$/
const HOST = /^host:/im
/** Headers that change what Node's server does with a request: a body, an expectation, an upgrade, a close. */
const ASIDE = /^(?:content-length|transfer-encoding|expect|upgrade):|^connection:(?![ \t]*keep-alive[ \t]*\r$)/im
/** Longer requests are left to Node: Prometheus's is about 300 bytes. */
const MOST_BYTES = 4096

/** 'GET' or 'HEAD' for a request the lane answers; undefined for any other. */
export function plainScrape(chunk: Buffer): 'GET' | 'HEAD' | undefined {
  if (chunk.length > MOST_BYTES) return undefined
  const m = SCRAPE.exec(chunk.toString('latin1'))
  if (!m || !HOST.test(m[2] as string) || ASIDE.test(m[2] as string)) return undefined
  return m[1] as 'GET' | 'HEAD'
}

/**
 * Puts the lane in front of `server` (plain HTTP, bounded and listening or
 * about to): every connection it accepts starts in the lane, and moves to
 * Node's server at its first request the lane does not answer.
 */
export function laneFor(server: Server, source: LaneSource): void {
  const node = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  const held = new Set<Socket>()
  /** The answer's bytes, made again at each sample and each second (the Date). */
  let made: { promise: Promise<Buffer>; second: number; head: Buffer; full: Buffer } | undefined
  let last: { promise: Promise<Buffer>; bytes: Buffer } | undefined

  const answer = (bytes: Buffer, method: 'GET' | 'HEAD', promise: Promise<Buffer>): Buffer => {
    const second = Math.floor(Date.now() / 1000)
    if (made?.promise !== promise || made.second !== second) {
      // As Node's server writes them for res.writeHead(200, { content-type, content-length }) on a kept-alive connection.
      const head = Buffer.from(
        `HTTP/1.1 200 OK\r\ncontent-type: ${source.contentType}\r\ncontent-length: ${bytes.length}\r\nDate: ${new Date(second * 1000).toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(server.keepAliveTimeout / 1000)}\r\n\r\n`,
        'latin1',
      )
      made = { promise, second, head, full: Buffer.concat([head, bytes]) }
    }
    return method === 'HEAD' ? made.head : made.full
  }

  server.on('connection', (socket: Socket) => {
    held.add(socket)
    const onTimeout = () => socket.destroy()
    const onError = () => socket.destroy()
    const onEnd = () => socket.end()
    const onClose = () => held.delete(socket)
    /** To Node's server, with the request read so far: it parses it as if it had read it itself. */
    const handOver = (chunk: Buffer) => {
      socket.off('data', onData)
      socket.off('timeout', onTimeout)
      socket.off('error', onError)
      socket.off('end', onEnd)
      socket.off('close', onClose)
      socket.setTimeout(0)
      held.delete(socket)
      for (const listener of node) listener.call(server, socket)
      socket.unshift(chunk)
      socket.resume()
    }
    /** A client that does not read its answers gets no more read of its requests until it does, as with Node's server. */
    const send = (bytes: Buffer, paused: boolean) => {
      if (!socket.write(bytes)) {
        if (!paused) socket.pause()
        socket.once('drain', () => socket.resume())
      } else if (paused) socket.resume()
    }
    const onData = (chunk: Buffer) => {
      const method = source.open() ? plainScrape(chunk) : undefined
      if (method === undefined) return handOver(chunk)
      const promise = source.body()
      if (last?.promise === promise) return send(answer(last.bytes, method, promise), false)
      // The first scrape of a sample whose text is still being made: the next request waits for this answer.
      socket.pause()
      promise.then(
        bytes => {
          last = { promise, bytes }
          if (!socket.destroyed) send(answer(bytes, method, promise), true)
        },
        // Node's server answers it, with its 500.
        () => void (socket.destroyed || handOver(chunk)),
      )
    }
    // Idle this long, before a first request (as the header timeout would) or after an answer (the keep-alive), it is closed.
    socket.setTimeout(server.keepAliveTimeout)
    socket.on('timeout', onTimeout)
    socket.on('error', onError)
    socket.on('end', onEnd)
    socket.on('close', onClose)
    socket.on('data', onData)
  })

  // close() closes the idle connections, closeAllConnections() every one: the lane's too.
  const closeIdle = server.closeIdleConnections.bind(server)
  server.closeIdleConnections = () => {
    for (const socket of held) void (socket.writableLength > 0 ? socket.end() : socket.destroy())
    closeIdle()
  }
  const closeAll = server.closeAllConnections.bind(server)
  server.closeAllConnections = () => {
    for (const socket of held) socket.destroy()
    closeAll()
  }
}
