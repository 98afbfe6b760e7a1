/**
 * A linear scale's mapping as a plain function: the same arithmetic d3's
 * scaleLinear does (normalise into the domain, then interpolate the range),
 * without the layers of closures d3 calls through for every value. The
 * charts call the time and RSS scales once or more for every sample drawn;
 * this gives the same numbers, bit for bit (the tests hold it to d3's).
 * Anything but a plain two-point scale is used as it is. Pure.
 */
import { scaleLinear, type ScaleLinear } from 'd3-scale'

const PLAIN = scaleLinear()

export function fastLinear(s: ScaleLinear<number, number>): (v: number) => number {
  const domain = s.domain()
  const range = s.range()
  if (domain.length !== 2 || range.length !== 2 || s.clamp() || s.interpolate() !== PLAIN.interpolate() || s.unknown() !== undefined) return s
  let [d0, d1] = domain as [number, number]
  let [r0, r1] = range as [number, number]
  if (typeof r0 !== 'number' || typeof r1 !== 'number') return s
  if (d1 < d0) {
    ;[d0, d1] = [d1, d0]
    ;[r0, r1] = [r1, r0]
  }
  const span = d1 - d0
  if (!span) {
    const t = Number.isNaN(span) ? NaN : 0.5
    const at = r0 * (1 - t) + r1 * t
    return v => (Number.isNaN(v) ? (undefined as unknown as number) : at)
  }
  return v => {
    if (Number.isNaN(v)) return undefined as unknown as number // what d3 answers for NaN: its `unknown`
    const t = (v - d0) / span
    return r0 * (1 - t) + r1 * t
  }
}
