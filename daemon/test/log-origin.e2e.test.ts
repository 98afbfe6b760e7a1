/**
 * A server in a container: its id read from the server's /proc/PID/cgroup,
 * and the log command chosen for it; then that command's output, from a
 * `docker` on PATH, followed by the real daemon.
 *
 * Putting a process into a cgroup named like a container's needs root (or a
 * delegated systemd), so the id is read here from the text of real
 * /proc/PID/cgroup layouts. Each says where its shape comes from; the ids are
 * made up.
 */
import t from 'tap'
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { containerLogOrigin, containerOf, containerOfPid, findServerLog } from '../log-origin.js'
import { exited, foreground, memtrace, read, sleep, standinServer, traceFiles, until } from './helpers.js'

const A = 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817061234'
const B = '5b1e0a9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3928170615e4d3c2b1a0feed00'
const v1 = (path: string) => ['12:pids', '11:hugetlb', '10:net_prio', '9:perf_event', '8:blkio', '7:net_cls', '6:freezer', '5:devices', '4:memory', '3:cpuacct,cpu', '2:cpuset', '1:name=systemd'].map(c => `${c}:${path}`).join('\n') + '\n'

t.test('the container of a process, from its cgroup', async t => {
  const cases: [string, string, ReturnType<typeof containerOf>][] = [
    // cgroup v2, Docker with the systemd cgroup driver (its default on a systemd host with cgroup v2): runc names the unit docker-<id>.scope in system.slice.
    ['docker, cgroup v2, systemd driver', `0::/system.slice/docker-${A}.scope\n`, { runtime: 'docker', id: A }],
    // cgroup v2, Docker with the cgroupfs driver (cgroupdriver=cgroupfs, and Docker Desktop's VM): its cgroup parent /docker.
    ['docker, cgroup v2, cgroupfs driver', `0::/docker/${A}\n`, { runtime: 'docker', id: A }],
    // cgroup v1, Docker with the cgroupfs driver: every controller's line names /docker/<id> (Ubuntu 16.04–20.04; the layout of neuvector's cgroup_test.go TestDockerIDUbuntu).
    ['docker, cgroup v1, cgroupfs driver', v1(`/docker/${A}`), { runtime: 'docker', id: A }],
    // cgroup v1, Docker with the systemd driver (CentOS/RHEL 7; the layout of neuvector's TestDockerIDCentOS).
    ['docker, cgroup v1, systemd driver', v1(`/system.slice/docker-${A}.scope`), { runtime: 'docker', id: A }],
    // Docker in Docker (RancherOS's system-docker; neuvector's TestDockerIDRancherOS): the innermost id is the one its docker knows.
    ['docker in docker', v1(`/docker/${B}/docker/${A}`), { runtime: 'docker', id: A }],
    // A pod's container run by Docker under the kubelet's systemd driver (neuvector's TestDockerIDKubepods2).
    ['docker under kubepods.slice', v1(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod045b1e35_7f13_11e7_ac42_0050568ffca0.slice/docker-${A}.scope`), { runtime: 'docker', id: A }],
    // cgroup v2, rootful Podman with systemd: the container's scope libpod-<id>.scope in machine.slice (Podman's default cgroup parent for root).
    ['podman, rootful', `0::/machine.slice/libpod-${A}.scope\n`, { runtime: 'podman', id: A }],
    // cgroup v2, rootless Podman: the same scope in the user's own systemd instance.
    ['podman, rootless', `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${A}.scope\n`, { runtime: 'podman', id: A }],
    // A container that runs its own init: crun puts its processes one level down, in .../container.
    ['podman, split cgroup', `0::/machine.slice/libpod-${A}.scope/container\n`, { runtime: 'podman', id: A }],
    // Podman with the cgroupfs manager: its cgroup parent /libpod_parent, the container libpod-<id> without .scope.
    ['podman, cgroupfs', `0::/libpod_parent/libpod-${A}\n`, { runtime: 'podman', id: A }],
    // Podman's conmon, which watches a container, sits in libpod-conmon-<id>.scope: not the container.
    ['podman conmon', `0::/machine.slice/libpod-conmon-${A}.scope\n`, undefined],
    // containerd through the CRI, the kubelet's systemd driver (EKS, Bottlerocket; neuvector's TestK8sBottleRocket).
    ['containerd under kubepods', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b9f8a7c_6d5e_4f3a_8b2c_1d0e9f8a7b6c.slice/cri-containerd-${A}.scope\n`, { runtime: 'containerd', id: A }],
    // CRI-O (OpenShift): crio-<id>.scope.
    ['cri-o under kubepods', `0::/kubepods.slice/kubepods-pod0b9f8a7c_6d5e_4f3a_8b2c_1d0e9f8a7b6c.slice/crio-${A}.scope\n`, { runtime: 'cri-o', id: A }],
    // The kubelet's cgroupfs driver, cgroup v1: /kubepods/<qos>/pod<uid>/<id>, whatever the runtime (neuvector's TestDockerIDKubepods, TestK8sProxyProcess).
    ['kubepods, cgroupfs', v1(`/kubepods/besteffort/pod74ba62da-1a3d-11e7-bb11-080027cb0e22/${A}`), { runtime: 'kubernetes', id: A }],
    ['kubepods, a process in a sub-cgroup', v1(`/kubepods/besteffort/podf8a694f2-7c08-11e9-98da-000c29077430/${A}/kube-proxy`), { runtime: 'kubernetes', id: A }],
    // Not in a container: Ollama's own systemd unit, a login session, the root cgroup (v2 and v1), a cgroup namespace's view from inside.
    ['the ollama.service unit', '0::/system.slice/ollama.service\n', undefined],
    ['a login session', '0::/user.slice/user-1000.slice/session-3.scope\n', undefined],
    ['the root, cgroup v1', v1('/'), undefined],
    ['inside a container with its own cgroup namespace', '0::/\n', undefined],
    // systemd's hybrid hierarchy, cgroup v1 controllers beside a v2 tree: the v2 line is read first (two ids only to show which).
    ['hybrid', `${v1(`/system.slice/docker-${B}.scope`)}0::/system.slice/docker-${A}.scope\n`, { runtime: 'docker', id: A }],
    ['a short id is no container id', `0::/docker/${A.slice(0, 12)}\n`, undefined],
  ]
  for (const [what, text, want] of cases) t.same(containerOf(text), want, what)
})

t.test('the log command chosen: docker logs or podman logs, followed from the daemon\'s start', async t => {
  const start = Date.parse('2026-12-03T14:00:00.456Z')
  t.same(containerLogOrigin({ runtime: 'docker', id: A }, start), { command: ['docker', 'logs', '-f', '--since', '2026-12-03T14:00:00Z', A] })
  t.same(containerLogOrigin({ runtime: 'podman', id: A }, start), { command: ['podman', 'logs', '-f', '--since', '2026-12-03T14:00:00Z', A] })
  for (const runtime of ['containerd', 'cri-o', 'kubernetes'] as const) t.equal(containerLogOrigin({ runtime, id: A }, start), undefined, `${runtime}: no command on the host names it`)
})

t.test('that command followed by the daemon: a docker on PATH, the log on its stderr and its stdout', async t => {
  const dir = t.testdir({})
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  const calls = join(dir, 'docker-args')
  // docker logs -f: the container's stdout on stdout, its stderr (where Ollama logs) on stderr, as printed; then it follows.
  writeFileSync(
    join(bin, 'docker'),
    `#!/bin/sh
printf '%s\\n' "$*" > '${calls}'
echo 'time=2026-12-03T14:00:01.000Z level=INFO source=routes.go:1 msg="Listening on [::]:11434 (version 0.30.0)"' >&2
echo '[GIN] 2026/12/03 - 14:00:02 | 200 |    1.2ms |  172.17.0.1 | POST     "/api/generate"'
echo 'load_tensors:   CPU_Mapped model buffer size =   292.36 MiB' >&2
echo 'time=2026-12-03T14:00:03.000Z level=INFO source=sched.go:1 msg="system memory" total="31.3 GiB" free="20.0 GiB" free_swap="0 B"'
exec sleep 3600
`,
  )
  chmodSync(join(bin, 'docker'), 0o755)
  const origin = containerLogOrigin({ runtime: 'docker', id: A }, Date.now())
  const trace = join(dir, 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', 'http://127.0.0.1:9', '--server-log-cmd', (origin as { command: string[] }).command.join(' ')], { PATH: `${bin}:${process.env.PATH}` })
  t.teardown(() => void d.kill('SIGKILL'))
  const keptFile = () => readdirSync(trace).find(f => f.startsWith('ollama-server-memtrace-'))
  const kept = await until(() => {
    const f = existsIn(trace) ? keptFile() : undefined
    const text = f ? read(join(trace, f)) : ''
    return text.split('\n').length > 3 ? text : undefined
  }, 10_000, 'three lines kept')
  await sleep(200)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  t.equal(read(calls).trim(), `logs -f --since ${(origin as { command: string[] }).command[4]} ${A}`, 'docker logs -f --since START ID')
  // Two pipes: the order between them is the order they were read in.
  const lines = kept.trimEnd().split('\n').sort()
  t.match(lines, [/^\d{4}-\d\d-\d\dT[\d:.]+Z load_tensors: {3}CPU_Mapped/, /msg="Listening on/, /msg="system memory"/], 'from stderr and stdout; the request line read past')
  t.equal(lines.length, 3)
})

t.test('a server in no container, and no log named or found: said once, after the server was looked at', { skip: findServerLog('linux') ? 'this host has a server log of its own' : false }, async t => {
  const s = await standinServer(t, { OLLAMA_STANDIN_RUNNER: 'simulated' }, [])
  t.equal(containerOfPid(s.server.pid as number), undefined, "the stand-in's server is in no container")
  const trace = join(t.testdir({}), 'trace')
  const d = foreground(['--dir', trace, '--ollama-url', s.url, '--system-interval', '1s'], s.env)
  t.teardown(() => void d.kill('SIGKILL'))
  await sleep(2500)
  t.match(memtrace(['status', '--dir', trace]).stdout, /server log: no server log found \(not the macOS app's, Homebrew's, a systemd unit's, nor a Docker or Podman container's\)/)
  d.kill('SIGTERM')
  t.equal((await exited(d)).code, 0)
  const sys = read(traceFiles(trace).sys)
  t.equal(sys.match(/memtrace source-error \{[^\n]*"source":"server-log"/g)?.length, 1, 'said once')
  t.match(read(traceFiles(trace).proc), /\tollama\t.*\bollama serve\n/, "while the server was traced")
})

function existsIn(dir: string): boolean {
  try {
    readdirSync(dir)
    return true
  } catch {
    return false
  }
}

t.test('the server in a container over time: followed when seen, again after a restart, a new container anew, a refusal not retried', async t => {
  const { ServerLogSource } = await import('../server-log-source.js')
  const { pino } = await import('pino')
  const dir = t.testdir({})
  // The server's /proc/PID/cgroup, as the daemon reads it, in a directory standing for /proc.
  const proc = join(dir, 'proc')
  const server = (pid: number, id: string) => {
    mkdirSync(join(proc, String(pid)), { recursive: true })
    writeFileSync(join(proc, String(pid), 'cgroup'), `0::/system.slice/docker-${id}.scope\n`)
  }
  // A docker whose log ends at once, as `docker logs -f` does when its container stops; a refusal for one id.
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  const calls = join(dir, 'calls')
  writeFileSync(
    join(bin, 'docker'),
    `#!/bin/sh\necho "$*" >> '${calls}'\n[ "$5" = "${'f'.repeat(64)}" ] && { echo 'permission denied' >&2; exit 1; }\necho 'time=2026-12-03T14:00:00.000Z level=INFO source=sched.go:1 msg="system memory" total="31.3 GiB" free="20.0 GiB" free_swap="0 B"' >&2\n`,
  )
  chmodSync(join(bin, 'docker'), 0o755)
  const path = process.env.PATH
  process.env.PATH = `${bin}:${path}`
  t.teardown(() => void (process.env.PATH = path))
  const problems: string[] = []
  const startedAt = Date.parse('2026-12-03T14:00:00Z')
  const source = new ServerLogSource({ platform: 'linux', procRoot: proc, file: join(dir, 'kept.log'), startedAt, log: pino({ level: 'silent' }), problem: m => void problems.push(m) })
  t.teardown(() => source.stop())
  const runs = () => read(calls).split('\n').filter(Boolean)
  const ended = (n: number) => until(() => (problems.filter(p => / ended | exit status/.test(p)).length >= n ? true : undefined), 5000, `${n} log commands ended`)
  source.check(undefined)
  t.match(problems, [/^no server log found/], 'no server yet: said once')
  server(100, A)
  source.check(100)
  await ended(1)
  t.same(runs(), [`logs -f --since 2026-12-03T14:00:00Z ${A}`], 'followed from the daemon\'s start')
  source.check(100)
  t.equal(runs().length, 1, 'the same server: not again')
  server(200, A)
  source.check(200)
  await ended(2)
  t.match(runs()[1], new RegExp(`^logs -f --since \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z ${A}$`), 'restarted: again')
  t.not(runs()[1], runs()[0], 'from where the last one ended')
  server(300, B)
  source.check(300)
  await ended(3)
  t.equal(runs()[2], `logs -f --since 2026-12-03T14:00:00Z ${B}`, 'another container: from the daemon\'s start')
  const F = 'f'.repeat(64)
  server(400, F)
  source.check(400)
  await ended(4)
  server(401, F)
  source.check(401)
  await sleep(300)
  t.equal(runs().length, 4, 'a refusal is not tried again')
  await source.stop()
  t.equal(read(join(dir, 'kept.log')).split('\n').filter(l => l.includes('system memory')).length, 3, 'three logs, one file')
  t.equal(source.kept, 3, 'and counted')
})
