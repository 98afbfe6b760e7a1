/** Option values the experiments and plan share, checked the same way. */
import { UsageError } from '../core/errors.js'
import { type ConfigError, parseDuration } from '../daemon/index.js'

/** A whole number from `min`, or the default when the option was not given. */
export function whole(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > 1 << 24) throw new UsageError(`--${name} wants a whole number from ${min}, not "${v}"`)
  return n
}

/** A duration such as 3s or 200ms, or the default. */
export function duration(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt
  try {
    return parseDuration(v, `--${name}`)
  } catch (e) {
    throw new UsageError((e as ConfigError).message)
  }
}
