import t from 'tap'
import { otherCpuPct, parsePidStat, parseProcStat, snapshot } from '../host-load.js'

// /proc/stat's first line as the kernel's Documentation/filesystems/proc.rst shows it (user nice system idle iowait irq softirq steal guest guest_nice).
const STAT = 'cpu  237902850 368826709 106375398 1873517540 1135548 0 14507935 0 0 0\ncpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\nintr 1462898\n'

t.test('/proc/stat: busy is user + nice + system + irq + softirq + steal; idle and iowait are not', async t => {
  const c = parseProcStat(STAT)
  t.same(c, { busy: 237902850 + 368826709 + 106375398 + 14507935, total: 237902850 + 368826709 + 106375398 + 14507935 + 1873517540 + 1135548 })
  t.equal(parseProcStat('intr 1\n'), undefined, 'no cpu line')
  t.equal(parseProcStat('cpu  a b c d\n'), undefined, 'damaged')
})

t.test('/proc/PID/stat: the fields after the name, which may hold spaces and parentheses', async t => {
  // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime …
  t.same(parsePidStat('4242 (ollama runner) S 4200 4200 4200 0 -1 4194560 1000 0 0 0 731 42 0 0 20 0 9 0 100 0 0'), { pid: 4242, ppid: 4200, ticks: 773 })
  t.same(parsePidStat('77 (a) b (c)) R 1 77 77 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0'), { pid: 77, ppid: 1, ticks: 11 })
  t.equal(parsePidStat('garbage'), undefined)
})

t.test("others' CPU: the machine's busy time less ours, over all the time there was", async t => {
  const a = { cpu: { busy: 1000, total: 4000 }, ours: new Map([[10, 100], [11, 50]]), load: 1 }
  // 400 ticks went by; 300 busy, 200 of them ours (150 by a process in both, 50 by one that started in between).
  const b = { cpu: { busy: 1300, total: 4400 }, ours: new Map([[10, 250], [11, 50], [12, 50]]), load: 1 }
  t.equal(otherCpuPct(a, b), 25)
  t.equal(otherCpuPct({ ours: new Map(), load: 0 }, b), undefined, 'no /proc/stat: not measured')
  t.equal(otherCpuPct(b, b), undefined, 'no time went by')
})

t.test('on this machine: a reading has the load average, and on Linux the CPU totals and this process', async t => {
  const s = snapshot([process.pid])
  t.ok(s.load >= 0)
  if (process.platform === 'linux') {
    t.ok(s.cpu && s.cpu.total > s.cpu.busy)
    t.ok(s.ours.has(process.pid), 'this process is one of ours')
  }
})
