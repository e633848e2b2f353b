/**
 * Running a command as nobody (with chosen capabilities, through setpriv) from a checkout nobody
 * may not reach: a clone under a 0700 home or in a `mktemp -d` directory. The command runs in a
 * mount namespace of its own where the checkout is bound at a root-owned 0755 directory under
 * /tmp, so nobody reaches it without a step through the private parent. Nothing of the user's
 * permissions changes, and the bind goes with the command's namespace.
 *
 *   const r = spawnSync(...nobodyCommand('+bpf,+perfmon,+net_admin', [process.execPath, inView(BIN), 'doctor']))
 */
import fs from 'node:fs'
import path from 'node:path'
import { REPO } from './container.js'

let view: string | undefined

/** The directory the checkout is bound at inside `viewed` commands (made once per process, removed at exit). */
function viewDir(): string {
  if (view) return view
  // /tmp itself, not os.tmpdir(): TMPDIR may point into the same private home.
  const dir = fs.mkdtempSync('/tmp/faultline-view-')
  fs.chmodSync(dir, 0o755)
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
  return (view = dir)
}

/** Where `p`, a path inside the checkout, is seen by a `viewed` command. */
export function inView(p: string): string {
  const rel = path.relative(REPO, p)
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${p} is not inside the checkout ${REPO}`)
  return path.join(viewDir(), rel)
}

/** `argv` run in a private mount namespace with the checkout bound at the view directory. */
export function viewed(argv: string[]): string[] {
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', REPO, viewDir(), ...argv]
}

/**
 * `argv` as nobody holding only `caps` (setpriv's syntax: '+bpf,+perfmon' or '' for none), in
 * the inheritable and ambient sets so they survive exec, inside the view. Returns [command, args].
 */
export function nobodyCommand(caps: string, argv: string[], { bounding = false } = {}): [string, string[]] {
  const set = ['-all', ...caps.split(',').filter(Boolean)].join(',')
  const [cmd, ...args] = viewed([
    'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${set}`, `--ambient-caps=${set}`,
    ...(bounding ? [`--bounding-set=${set}`] : []),
    ...argv,
  ])
  return [cmd!, args]
}
