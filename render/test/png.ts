import { inflateSync } from 'node:zlib'

export interface Image {
  width: number
  height: number
  /** RGBA, 4 bytes a pixel. */
  data: Uint8Array
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium and resvg write). */
export function decodePng(buf: Buffer): Image {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG')
  let pos = 8
  let width = 0
  let height = 0
  let colorType = 0
  const idat: Buffer[] = []
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos)
    const type = buf.toString('latin1', pos + 4, pos + 8)
    const body = buf.subarray(pos + 8, pos + 8 + len)
    if (type === 'IHDR') {
      width = body.readUInt32BE(0)
      height = body.readUInt32BE(4)
      if (body[8] !== 8 || body[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs')
      colorType = body[9] as number
    } else if (type === 'IDAT') idat.push(body)
    else if (type === 'IEND') break
    pos += 12 + len
  }
  const bpp = colorType === 6 ? 4 : colorType === 2 ? 3 : 0
  if (!bpp) throw new Error(`unsupported PNG colour type ${colorType}`)
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * bpp
  const cur = new Uint8Array(stride)
  const prev = new Uint8Array(stride)
  const data = new Uint8Array(width * height * 4)
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)] as number
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? (cur[i - bpp] as number) : 0
      const b = prev[i] as number
      const c = i >= bpp ? (prev[i - bpp] as number) : 0
      const x = line[i] as number
      let v: number
      if (f === 0) v = x
      else if (f === 1) v = x + a
      else if (f === 2) v = x + b
      else if (f === 3) v = x + ((a + b) >> 1)
      else {
        const p = a + b - c
        const pa = Math.abs(p - a)
        const pb = Math.abs(p - b)
        const pc = Math.abs(p - c)
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)
      }
      cur[i] = v & 255
    }
    for (let xpx = 0; xpx < width; xpx++) {
      const o = (y * width + xpx) * 4
      data[o] = cur[xpx * bpp] as number
      data[o + 1] = cur[xpx * bpp + 1] as number
      data[o + 2] = cur[xpx * bpp + 2] as number
      data[o + 3] = bpp === 4 ? (cur[xpx * bpp + 3] as number) : 255
    }
    prev.set(cur)
  }
  return { width, height, data }
}

/** How many pixels are within `tol` of a colour (`#rrggbb`). */
export function countColor(img: Image, hex: string, tol = 24): number {
  const r = parseInt(hex.slice(1, 3), 16)
  const g = parseInt(hex.slice(3, 5), 16)
  const b = parseInt(hex.slice(5, 7), 16)
  let n = 0
  for (let i = 0; i < img.data.length; i += 4) {
    if (Math.abs((img.data[i] as number) - r) <= tol && Math.abs((img.data[i + 1] as number) - g) <= tol && Math.abs((img.data[i + 2] as number) - b) <= tol) n++
  }
  return n
}

/** A translucent fill as it shows over the panel background. */
export function blend(hex: string, alpha: number, over = '#fcfcfc'): string {
  const c = (h: string, i: number) => parseInt(h.slice(1 + 2 * i, 3 + 2 * i), 16)
  const out = [0, 1, 2].map(i => Math.round(alpha * c(hex, i) + (1 - alpha) * c(over, i)))
  return `#${out.map(v => v.toString(16).padStart(2, '0')).join('')}`
}
