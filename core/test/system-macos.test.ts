import t from 'tap'
import { block, parseSys } from './helpers.js'

const VM_STAT_16K = `Mach Virtual Memory Statistics: (page size of 16384 bytes)
Pages free:                               12345.
Pages active:                            402113.
Pages inactive:                          398331.
Pages speculative:                         8120.
Pages throttled:                              0.
Pages wired down:                        734567.
Pages purgeable:                           2114.
"Translation faults":                 912345678.
Pages copy-on-write:                   12345678.
Pages zero filled:                    456789012.
Pages reactivated:                      2345678.
Pages purged:                            345678.
File-backed pages:                       240000.
Anonymous pages:                         560444.
Pages stored in compressor:              320000.
Pages occupied by compressor:            101000.
Decompressions:                         1234567.
Compressions:                           2345678.
Pageins:                                2345678.
Pageouts:                                 41234.
Swapins:                                    900.
Swapouts:                                  1200.`

t.test('vm_stat on Apple Silicon (16 KiB pages)', async t => {
  const { sample, problems } = block(VM_STAT_16K)
  t.equal(problems.total, 0)
  t.equal(sample.platform, 'macos')
  t.equal(sample.pageSizeBytes, 16384)
  t.equal(sample.freeBytes, 12345 * 16384)
  t.equal(sample.wiredBytes, 734567 * 16384)
  t.equal(sample.compressorBytes, 101000 * 16384)
  t.equal(sample.pageouts, 41234)
  t.equal(sample.swapouts, 1200)
  t.equal(sample.vmStat?.['Translation faults'], 912345678)
  t.equal(Object.keys(sample.vmStat ?? {}).length, 22, 'every counter kept')
})

t.test('vm_stat on Intel (4 KiB pages) from an older macOS without some lines', async t => {
  const { sample, problems } = block(`Mach Virtual Memory Statistics: (page size of 4096 bytes)
Pages free:                               51234.
Pages active:                           1202113.
Pages inactive:                          998331.
Pages speculative:                        18120.
Pages wired down:                        534567.
"Translation faults":                 912345678.
Pages copy-on-write:                   12345678.
Pages zero filled:                    456789012.
Pages reactivated:                      2345678.
Pageins:                                2345678.
Pageouts:                                 41234.
Object cache: 19 hits of 1234 lookups (1% hit rate)`)
  t.equal(sample.pageSizeBytes, 4096)
  t.equal(sample.wiredBytes, 534567 * 4096)
  t.equal(sample.compressorBytes, undefined, 'absent, not zero')
  t.equal(problems.count('unrecognised-line'), 1, 'the object-cache line of old vm_stat is not a counter')
})

t.test('newer vm_stat tag-storage lines, one counted in bytes', async t => {
  const { sample, problems } = block(`${VM_STAT_16K}
Pages used by tag storage:                 1024.
Tag storage size (bytes):              67108864.`)
  t.equal(problems.total, 0)
  t.equal(sample.vmStat?.['Pages used by tag storage'], 1024)
  t.equal(sample.vmStat?.['Tag storage size (bytes)'], 67108864)
  t.equal(sample.wiredBytes, 734567 * 16384, 'the known counters are unaffected')
})

const MP = `The system has 34359738368 (2097152 pages with a page size of 16384).

Stats: 
Pages free: 12345 
Pages purgeable: 2114 
Pages purged: 345678 

Swap I/O:
Swapins: 900 
Swapouts: 1200 

Page Q counts:
Pages active: 402113 
Pages inactive: 398331 
Pages speculative: 8120 
Pages throttled: 0 
Pages wired down: 734567 

Compressor Stats:
Pages used by compressor: 101000 
Pages decompressed: 1234567 
Pages compressed: 2345678 

File I/O:
Pageins: 2345678 
Pageouts: 41234 

System-wide memory free percentage: 23%`

t.test('memory_pressure: total memory and the free percentage', async t => {
  const { sample, problems } = block(MP)
  t.equal(problems.total, 0)
  t.equal(sample.memTotalBytes, 34359738368)
  t.equal(sample.freePct, 23)
  t.same(sample.sections, ['memory_pressure'])
  t.equal(sample.platform, 'macos')
})

t.test('sysctl vm.swapusage in M, and with a decimal comma', async t => {
  const a = block('vm.swapusage: total = 2048.00M  used = 1024.50M  free = 1023.50M  (encrypted)').sample
  t.equal(a.swapTotalBytes, 2048 * 1024 ** 2)
  t.equal(a.swapUsedBytes, 1024.5 * 1024 ** 2)
  t.equal(a.swapFreeBytes, 1023.5 * 1024 ** 2)
  const b = block('vm.swapusage: total = 3072,00M  used = 2560,25M  free = 511,75M  (encrypted)').sample
  t.equal(b.swapUsedBytes, 2560.25 * 1024 ** 2)
  const c = block('vm.swapusage: total = 0.00M  used = 0.00M  free = 0.00M  ').sample
  t.equal(c.swapUsedBytes, 0)
})

t.test('a whole seed block: sections recognised by content in any order', async t => {
  const { sample, problems } = block(
    `vm.swapusage: total = 2048.00M  used = 12.00M  free = 2036.00M  (encrypted)\n${MP}\n${VM_STAT_16K}\n` +
      'NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL \n{"models":[]}\n',
  )
  t.equal(problems.total, 0)
  t.same([...sample.sections].sort(), ['api-ps', 'memory_pressure', 'ollama-ps', 'swapusage', 'vm_stat'])
  t.same(sample.models, [])
  t.same(sample.cliModels, [])
})

t.test('blocks: CRLF, text before the first header, a bad header time, a truncated end', async t => {
  const { blocks, problems } = parseSys(
    'stray\n===== 2026-02-25T14:03:12Z =====\r\nvm.swapusage: total = 1.00M  used = 0.00M  free = 1.00M\r\n' +
      '===== not a time =====\nPages free: 1.\n' +
      '===== 2026-02-25T14:03:22Z =====\nvm.swapusage: total = 2.00M  used = 1.00M  free = 1.00M\nvm.swapusage: tot',
  )
  t.equal(blocks.length, 2)
  t.equal(blocks[0]!.sample.swapTotalBytes, 1024 ** 2)
  t.equal(blocks[1]!.sample.swapUsedBytes, 1024 ** 2)
  t.equal(problems.count('unrecognised-line'), 1, 'the stray line')
  t.equal(problems.count('bad-timestamp'), 1)
  t.equal(problems.count('truncated-line'), 1)
})
