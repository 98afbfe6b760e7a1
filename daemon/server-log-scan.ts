/**
 * The follower's first test, on the bytes read, before anything is decoded:
 * a line can hold a word of MAY_TELL only if it holds three letters of that
 * word in a row, its anchor. Most lines of a busy log hold none and are
 * passed over without being decoded or cut out; a line that holds one is
 * decoded and tested with MAY_TELL itself, so the lines looked at are
 * exactly those MAY_TELL finds.
 *
 * A trigram is keyed by the low five bits of each of its bytes: a capital
 * and a small letter share them (MAY_TELL ignores case, and matches a word's
 * letters only with ASCII ones), and any byte has a key, so a line that
 * holds a word holds its anchor's key. Other bytes share keys with letters
 * (digits with p to y): they only make a line decoded and tested for nothing.
 */
import { MAY_TELL } from './server-log-words.js'

/**
 * Each word's anchor: three of its characters that lines of other kinds
 * seldom hold (chosen against a busy debug log's request lines and the
 * other lines of the test logs: `vic` would fire on every `device`, `msg`
 * on every structured line). A word without one here is anchored by its
 * first three characters: as exact, less quick.
 */
const ANCHOR: Record<string, string> = {
  memory: 'mor',
  vram: 'vra',
  'inference compute': 'nfe',
  offload: 'ffl',
  'msg=load': 'g=l',
  'load request': 'd r',
  'load failed': 'fai',
  'error loading': 'rro',
  'kv cache': 'v c',
  'compute graph': 'aph',
  'model weights': 'wei',
  evict: 'ict',
  fit: 'fit',
  oom: 'oom',
  starting: 'rti',
  'started in': 'rte',
  'is ready': 'is ',
  terminated: 'rmi',
  'unexpectedly stopped': 'dly',
  'working set': 'rki',
  workingsetsize: 'rki',
  'finished setting up': 'g u',
  'server config': 'nfi',
  'listening on': 'eni',
  'buffer size': 'uff',
  llm_load_tensors: 'lm_',
  'mib free': 'b f',
  mmproj: 'mmp',
  'killed process': 'kil',
}

/** The words of MAY_TELL, as plain text in small letters; its `\b` is left to MAY_TELL. */
export function mayTellWords(): string[] {
  return MAY_TELL.source.split('|').map(w => {
    const text = w.replace(/\\b$/, '')
    if (!/^[\w =]{3,}$/.test(text)) throw new Error(`MAY_TELL's word ${JSON.stringify(w)} is not plain text of three characters or more: the byte test cannot hold it`)
    return text.toLowerCase()
  })
}

/** The three characters of `word` a line must hold to be tested. */
export function anchorOf(word: string): string {
  const a = ANCHOR[word]
  return a !== undefined && word.includes(a) ? a : word.slice(0, 3)
}

const key = (a: number, b: number, c: number) => ((a & 31) << 10) | ((b & 31) << 5) | (c & 31)

/** One bit per trigram key (2^15 of them: 4 KiB), set for each word's anchor. */
const ANCHORS = new Uint32Array(1024)
for (const word of mayTellWords()) {
  const a = anchorOf(word)
  const k = key(a.charCodeAt(0), a.charCodeAt(1), a.charCodeAt(2))
  ANCHORS[k >>> 5] = (ANCHORS[k >>> 5] as number) | (1 << (k & 31))
}

/**
 * The whole lines of `buf[from, to)` that hold an anchor, in order, as
 * pairs of offsets in `out` (emptied first): a line's first byte and its
 * newline. Returns the offset of the last newline (`from - 1` if none):
 * what follows it is a line not ended yet.
 */
export function anchoredLines(buf: Uint8Array, from: number, to: number, out: number[]): number {
  out.length = 0
  let h = 0
  let start = from
  let hit = false
  let last = from - 1
  for (let i = from; i < to; i++) {
    const b = buf[i] as number
    if (b === 10) {
      if (hit) out.push(start, i)
      start = i + 1
      h = 0
      hit = false
      last = i
    } else if (!hit) {
      h = ((h << 5) | (b & 31)) & 0x7fff
      hit = (ANCHORS[h >>> 5]! & (1 << (h & 31))) !== 0 && i - start >= 2
    }
  }
  return last
}
