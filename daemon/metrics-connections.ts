/**
 * How many connections `--metrics` holds, and for how long. Every connection
 * is a descriptor, and the sampler needs descriptors of its own (/proc,
 * the trace files, a socket to Ollama, the GPU tools' pipes): a scraper, or
 * anyone on the host, must never take the ones the sampler needs.
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { Server } from 'node:http'

/**
 * The most connections served at once: Prometheus keeps one per server
 * scraping; 64 serve a busy fleet (`make bench` scrapes with 50 at once)
 * for about 5 MiB.
 */
export const METRICS_MAX_CONNECTIONS = 64
/** Descriptors left to the sampler beyond those open when the listener starts (a scan, the files, probes' pipes). */
export const SAMPLER_RESERVE_FDS = 32
/** A request's headers must come within this. */
export const HEADERS_TIMEOUT_MS = 5_000
/** A whole request, likewise. */
export const REQUEST_TIMEOUT_MS = 10_000
/** An idle kept-alive connection is closed after this (Prometheus scrapes every 15 s by default, and opens another). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000
/** How often the server looks for connections past their time. */
export const CHECK_INTERVAL_MS = 1_000

/**
 * The cap for a process allowed `limit` descriptors with `open` in use: at
 * most METRICS_MAX_CONNECTIONS, and never into the sampler's reserve. At
 * least one, so that a scrape can still be answered.
 */
export function connectionCap(limit: number | undefined, open: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return METRICS_MAX_CONNECTIONS
  return Math.max(1, Math.min(METRICS_MAX_CONNECTIONS, limit - open - SAMPLER_RESERVE_FDS))
}

/** This process's soft limit on open files (Linux: /proc/self/limits), or undefined where it cannot be read. */
export function openFileLimit(text = safeRead('/proc/self/limits')): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text ?? '')
  return m ? (m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1])) : undefined
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** Descriptors open now (Linux, /proc/self/fd; elsewhere a guess of what a started daemon holds). */
function openNow(): number {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return 24
  }
}

/** The server options that take effect only at creation. */
export const SERVER_OPTIONS = { connectionsCheckingInterval: CHECK_INTERVAL_MS, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS } as const

/**
 * Caps and times a metrics server: a connection past the cap is closed as it
 * is accepted (its descriptor is given back at once), one that does not send
 * its headers in time is closed, and so is an idle kept-alive one.
 */
export function bound(server: Server): Server {
  server.maxConnections = connectionCap(openFileLimit(), openNow())
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  // A connection that sends nothing at all, not even a request line.
  server.setTimeout(REQUEST_TIMEOUT_MS, socket => socket.destroy())
  return server
}
