/**
 * The attacker and the place of the security tests: an unprivileged process (uid/gid 65534, no
 * groups, no capabilities, through setpriv) running a tiny Python script that binds an abstract
 * name, and a network namespace of the test's own, so a squatted name (abstract names belong to
 * the network namespace) never blocks the other test files arming on the host.
 *
 * The script lives in a fresh world-readable directory, not in the checkout, which may sit
 * below a directory nobody cannot enter.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const NOBODY = 65534
export const PYTHON = '/usr/bin/python3'
export const CORE = fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url))
export const BIN = fileURLToPath(new URL('../../packages/core/dist/cli/main.js', import.meta.url))
export const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all']

/** Why this machine cannot run the attacks, or undefined. */
export function attackUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the attacks run faultline as root against a process of uid 65534: run the suite as root'
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing (the squatter is a Python script)`
  for (const tool of ['setpriv', 'nsenter']) if (spawnSync(tool, ['--version']).error) return `${tool} (util-linux) is missing`
  return undefined
}

/** A directory every user can read and enter, for scripts nobody runs; removed by the caller. */
export function worldReadableDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  fs.chmodSync(dir, 0o755)
  return dir
}

/** argv: name, kinds ('stream', 'dgram' or 'stream,dgram'): stream and datagram names are separate namespaces. */
const SQUATTER = `import socket, sys
held = []
for kind in sys.argv[2].split(','):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM if kind == 'stream' else socket.SOCK_DGRAM)
    s.bind('\\0' + sys.argv[1])
    if kind == 'stream': s.listen(16)
    held.append(s)
print('ready', flush=True)
sys.stdin.read()
`

export interface Squatter {
  pid: number
  proc: ChildProcess
  stop(): Promise<void>
}

/** A network namespace of the test's own: `wrap` runs a command in it. */
export function privateNetns(tag: string): { name: string; wrap: string[]; remove(): void } {
  const name = `fl-sec-${tag}-${process.pid}`
  execFileSync('ip', ['netns', 'add', name])
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
  // nsenter, not `ip netns exec`: its fresh /sys hides the cgroup2 mount at /sys/fs/cgroup/unified
  return { name, wrap: ['nsenter', `--net=/run/netns/${name}`], remove: () => void spawnSync('ip', ['netns', 'del', name]) }
}

/**
 * Binds @name as uid 65534 in the namespace `wrap` enters, by default both as a listening stream
 * socket (what faultline uses since issue 23) and a datagram one (what it used before); resolves once bound.
 */
export async function squat(name: string, wrap: string[], kind: 'stream,dgram' | 'dgram' | 'stream' = 'stream,dgram', asUser = AS_NOBODY): Promise<Squatter> {
  const dir = worldReadableDir('fl-squatter-')
  const script = path.join(dir, 'squat.py')
  fs.writeFileSync(script, SQUATTER, { mode: 0o644 })
  // nsenter and setpriv exec, so the child's pid is the squatter's
  const [cmd, ...args] = [...wrap, ...asUser, PYTHON, script, name, kind]
  const proc = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr!.on('data', (d) => (stderr += String(d)))
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve())
    proc.once('exit', (code) => reject(new Error(`the squatter exited with ${code}: ${stderr}`)))
  })
  fs.rmSync(dir, { recursive: true, force: true })
  return {
    pid: proc.pid!,
    proc,
    async stop() {
      if (proc.exitCode !== null) return
      const exited = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGKILL')
      await exited
    },
  }
}

/** A private network namespace and state directory for one test file; `remove` undoes both. */
export function attackPlace(tag: string, env: NodeJS.ProcessEnv = process.env): { ns: ReturnType<typeof privateNetns>; env: NodeJS.ProcessEnv; remove(): void } {
  const ns = privateNetns(tag)
  const state = fs.mkdtempSync(path.join(os.tmpdir(), `fl-sec-${tag}-run-`))
  return { ns, env: { ...env, FAULTLINE_STATE_DIR: state }, remove: () => (ns.remove(), fs.rmSync(state, { recursive: true, force: true })) }
}

/** Runs an ES module script with node in the namespace (as root), with env; returns its JSON output line. */
export function runNode<T>(wrap: string[], script: string, env: NodeJS.ProcessEnv): T {
  const [cmd, ...args] = [...wrap, process.execPath, '--input-type=module', '-e', script]
  const r = spawnSync(cmd!, args, { encoding: 'utf8', env, timeout: 120_000 })
  if (r.status !== 0) throw new Error(`node exited with ${r.status}: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T
}
