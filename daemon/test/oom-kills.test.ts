// The kernel's OOM kills of traced processes: by the kernel's own line, or by a counter that moved while one vanished.
import t from 'tap'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { OomWatch } from '../oom-kills.js'
import type { ProcInfo } from '../probe/proc-linux.js'

const proc = (pid: number, comm: string, rssKb: number) => ({ pid, ppid: 1, comm, rssKb, vszKb: 1, command: comm, startTicks: 1 }) as unknown as ProcInfo
const vmstat = (dir: string, kills: number) => writeFileSync(join(dir, 'vmstat'), `pswpin 0\npswpout 0\noom_kill ${kills}\n`)
const T0 = Date.UTC(2026, 1, 25, 14, 0, 0)

t.test('/proc/vmstat oom_kill rises while a traced runner vanished: that runner, its RSS at its last sample and its model', async t => {
  const dir = t.testdir({})
  vmstat(dir, 3)
  const w = new OomWatch(dir, join(dir, 'no-kmsg'))
  w.note([proc(800, 'ollama', 60_000), proc(4412, 'llama-server', 31_981_234)], new Map([[4412, 'llama3.3:70b']]), T0)
  t.same(w.check(T0 + 1000), [], 'nothing moved')
  w.note([proc(800, 'ollama', 60_000)], new Map(), T0 + 2000)
  vmstat(dir, 4)
  t.same(w.check(T0 + 5000), [{ ts: '2026-02-25T14:00:05Z', pid: 4412, text: 'llama-server', bytes: 31_981_234 * 1024, model: 'llama3.3:70b', source: 'vmstat', message: '/proc/vmstat oom_kill rose by 1 while this process vanished' }])
  t.same(w.check(T0 + 10_000), [], 'said once')
  // A kill elsewhere on the machine while every traced process lives: nothing.
  vmstat(dir, 9)
  t.same(w.check(T0 + 15_000), [])
})

t.test("the server's cgroup memory.events oom_kill, for a container's own kills", async t => {
  const dir = t.testdir({ cg: { 'memory.events': 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n' } })
  const w = new OomWatch(join(dir, 'none'), join(dir, 'no-kmsg'))
  w.note([proc(4412, 'llama-server', 1000)], new Map(), T0)
  t.same(w.check(T0, join(dir, 'cg')), [])
  w.note([], new Map(), T0 + 1000)
  writeFileSync(join(dir, 'cg', 'memory.events'), 'low 0\nhigh 0\nmax 40\noom 2\noom_kill 1\n')
  t.match(w.check(T0 + 5000, join(dir, 'cg')), [{ pid: 4412, source: 'cgroup', message: "the server's cgroup memory.events oom_kill rose by 1 while this process vanished" }])
})

t.test("the kernel's own line names the process; lines from before the start and untraced processes are not this run's", async t => {
  const dir = t.testdir({})
  vmstat(dir, 0)
  const kmsg = join(dir, 'kmsg')
  writeFileSync(kmsg, '6,100,1000,-;Out of memory: Killed process 4412 (llama-server) total-vm:1kB, anon-rss:2kB, file-rss:0kB, shmem-rss:0kB\n')
  const w = new OomWatch(dir, kmsg)
  w.note([proc(4412, 'llama-server', 5000), proc(4413, 'llama-server', 6000)], new Map([[4413, 'qwen3:8b']]), T0)
  appendFileSync(kmsg, '6,101,2000,-;Out of memory: Killed process 999 (chrome) total-vm:1kB, anon-rss:2kB, file-rss:0kB, shmem-rss:0kB\n')
  appendFileSync(kmsg, '3,102,3000,-;Memory cgroup out of memory: Killed process 4413 (llama-server) total-vm:41234567kB, anon-rss:31981234kB, file-rss:1024kB, shmem-rss:0kB, UID:0 pgtables:62000kB oom_score_adj:0\n')
  vmstat(dir, 2)
  const kills = w.check(T0 + 5000)
  t.equal(kills.length, 1, 'only the traced one, once, though two counters moved')
  t.match(kills[0], { pid: 4413, model: 'qwen3:8b', bytes: 6000 * 1024, source: 'kernel', message: /^the kernel killed it: Memory cgroup out of memory: Killed process 4413 \(llama-server\)/ })
  w.close()
})
