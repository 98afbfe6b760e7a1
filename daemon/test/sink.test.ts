import t from 'tap'
import { readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { AppendFile, type WriteFn } from '../sink.js'
import { parseProc, parseSys } from '../../core/test/helpers.js'
import { TSV_HEADER } from '../daemon.js'
import { fill, smallDisk } from './helpers.js'

/** write(2) on a disk with `room` bytes left: a short write, then ENOSPC, until it is freed. */
function fillableDisk() {
  let room = Infinity
  const write: WriteFn = (fd, buf, off) => {
    if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    const n = Math.min(room, buf.length - off)
    room -= n
    return writeSync(fd, buf, off, n)
  }
  return { write, fill: (left = 0) => (room = left), free: () => (room = Infinity) }
}

const at = (i: number) => new Date(Date.UTC(2026, 1, 25, 14, 0, 0) + i * 1000).toISOString().replace('.000', '')
/** One row of sample `i`; `k` tells apart the processes of one sample. */
const row = (i: number, k = 0) => `${at(i)}\t${1000 + k}\t1\tollama\t${123456 + i}\t${654321 + i}\t/usr/bin/ollama runner --model /m/sha256-${k}\n`
const block = (i: number) => `===== ${at(i)} =====\nMemTotal:       65536000 kB\nMemFree:        ${1000 + i} kB\nMemAvailable:   ${2000 + i} kB\n\n`

t.test('a write cut short by a full disk: the rest is written once, when space returns', async t => {
  const dir = t.testdir({})
  const disk = fillableDisk()
  const proc = new AppendFile(join(dir, 'p.tsv'), { header: TSV_HEADER, write: disk.write })
  const sys = new AppendFile(join(dir, 's.log'), { write: disk.write })
  let wantProc = TSV_HEADER
  let wantSys = ''
  for (let i = 0; i < 3; i++) {
    wantProc += row(i)
    wantSys += block(i)
    t.ok(proc.write(row(i)) && sys.write(block(i)))
  }
  disk.fill(37) // the next row gets 37 bytes on disk, then the disk is full
  for (let i = 3; i < 8; i++) {
    wantProc += row(i)
    wantSys += block(i)
    t.notOk(proc.write(row(i)), 'held back')
    t.notOk(sys.write(block(i)), 'held back')
  }
  t.match(proc.lastError, /ENOSPC/)
  t.equal(proc.pendingBytes, Buffer.byteLength(wantProc) - readFileSync(join(dir, 'p.tsv')).length, 'exactly the unwritten rest is held')
  t.equal(sys.pendingBytes, Buffer.byteLength(wantSys) - readFileSync(join(dir, 's.log')).length, 'the blocks not on disk are held')
  disk.free()
  t.ok(proc.flush() && sys.flush(), 'written when space returns')
  t.equal(proc.lastError, undefined)
  const p = readFileSync(join(dir, 'p.tsv'), 'utf8')
  const s = readFileSync(join(dir, 's.log'), 'utf8')
  t.equal(p, wantProc, 'no byte written twice, none lost')
  t.equal(s, wantSys)
  t.equal(parseProc(p).problems.total, 0, 'every row parses')
  t.equal(parseProc(p).rows.length, 8)
  const parsed = parseSys(s)
  t.equal(parsed.problems.total, 0, 'every block parses')
  t.equal(parsed.blocks.length, 8, 'no block header swallowed')
})

t.test('past the limit, the oldest whole samples are dropped and counted; a row begun on disk is finished', async t => {
  const dir = t.testdir({})
  const disk = fillableDisk()
  const f = new AppendFile(join(dir, 'p.tsv'), { header: TSV_HEADER, write: disk.write, maxPendingBytes: 1000 })
  f.write(row(0))
  disk.fill(20)
  for (let i = 1; i <= 40; i++) f.write(row(i) + row(i, 1))
  t.ok(f.pendingBytes <= 1000 + row(1).length * 2, `${f.pendingBytes} bytes held`)
  t.ok(f.droppedBytes > 0 && f.droppedSamples > 0, `${f.droppedSamples} samples dropped`)
  disk.free()
  t.ok(f.write(row(41)))
  const text = readFileSync(join(dir, 'p.tsv'), 'utf8')
  const { rows, problems } = parseProc(text)
  t.equal(problems.total, 0, 'every row parses: the cut row was completed, never dropped')
  t.ok(text.includes(row(1)), 'the sample cut by the full disk is whole')
  t.ok(text.includes(row(40) + row(40, 1)) && text.endsWith(row(41)), 'the newest samples are kept')
  t.equal(Buffer.byteLength(text) + f.droppedBytes, Buffer.byteLength(TSV_HEADER + [0, ...Array.from({ length: 40 }, (_, k) => k + 1)].map(i => (i === 0 ? row(0) : row(i) + row(i, 1))).join('') + row(41)), 'what is missing is what was counted as dropped')
  t.equal(rows.length, 1 + 40 * 2 + 1 - f.droppedSamples * 2, 'rows lost only with the samples counted as dropped')
})

const NOT_ROOT = process.getuid?.() !== 0 && 'mounting a small tmpfs needs root (as in CI); the injected writer above covers the same logic'

t.test('on a real full filesystem (tmpfs): no row written twice', { skip: NOT_ROOT }, async t => {
  const mnt = smallDisk(t, '256k')
  const f = new AppendFile(join(mnt, 'p.tsv'), { header: TSV_HEADER })
  let want = TSV_HEADER
  for (let i = 0; i < 3; i++) f.write(row(i)), (want += row(i))
  // Fill the disk: the trace's last page keeps some room, so the next write is cut short.
  fill(join(mnt, 'filler'))
  let held = 0
  for (let i = 3; i < 200; i++) {
    want += row(i)
    if (!f.write(row(i))) held++
  }
  t.ok(held > 0, `${held} samples held back on the full disk`)
  rmSync(join(mnt, 'filler'))
  t.ok(f.flush(), 'written once space returns')
  const text = readFileSync(join(mnt, 'p.tsv'), 'utf8')
  t.equal(text, want, 'every row exactly once')
  t.equal(parseProc(text).problems.total, 0)
  f.close()
})
