/** Rectangles on the canvas, for keeping text and badges from colliding. */

export interface Rect {
  x: number
  y: number
  w: number
  h: number
}

/** True when the two rectangles share more than a hairline, with `pad` px kept clear around `a`. */
export function collide(a: Rect, b: Rect, pad = 0): boolean {
  return a.x - pad < b.x + b.w && b.x < a.x + a.w + pad && a.y - pad < b.y + b.h && b.y < a.y + a.h + pad
}

/**
 * The box a one-line text takes at baseline `y`, on the generous side:
 * ascenders of the tallest fallback font above, descenders below.
 */
export function textRect(x: number, y: number, width: number, size: number, anchor: 'start' | 'middle' | 'end' = 'start'): Rect {
  const left = anchor === 'start' ? x : anchor === 'middle' ? x - width / 2 : x - width
  return { x: left, y: y - 0.95 * size, w: width, h: 1.2 * size }
}

/** What is already placed in one area of the chart. */
export class Occupied {
  readonly rects: Rect[] = []

  free(r: Rect, pad = 2): boolean {
    return this.rects.every(o => !collide(r, o, pad))
  }

  add(r: Rect): void {
    this.rects.push(r)
  }
}

/** True when `r` lies wholly inside `box` (with `inset` px to spare). */
export function inside(r: Rect, box: Rect, inset = 0): boolean {
  return r.x >= box.x + inset && r.y >= box.y + inset && r.x + r.w <= box.x + box.w - inset && r.y + r.h <= box.y + box.h - inset
}
