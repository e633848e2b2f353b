/**
 * Hostile input: invalid configs, each as an object and as a YAML file, through
 * withFailureConfig. Each must be refused with a ConfigError naming the field, and nothing may
 * reach the kernel: this process (which never armed) must hold no BPF object after any of
 * them, and the machine's tc state, IFB devices and state files must be as before.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { withFailureConfig, ConfigError } from '../../packages/core/src/index.js'
import { bpfIdsOf, kernelView } from '../support/kernel-view.js'
import { kernelLock } from '../support/kernel-lock.js'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CORE, recordFigures } from './support.js'

const REFUSE_ALL = fileURLToPath(new URL('../fixtures/refuse-all.mjs', import.meta.url))
const BIG_TIMEOUT_MS = 20_000

const MB10 = 'x'.repeat(10 * 1024 * 1024)
const r = (extra: Record<string, unknown> = {}) => ({ name: 'r', syscall: 'connect', errno: 'ECONNREFUSED', ...extra })
const n = (extra: Record<string, unknown> = {}) => ({ name: 'n', action: 'drop', ...extra })
const deep = (depth: number, key: string, leaf: unknown): unknown => {
  let v = leaf
  for (let i = 0; i < depth; i++) v = { [key]: v }
  return v
}
const deepArray = (depth: number): unknown => {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}
/** An object with an own "__proto__" (or other) key, as JSON.parse or YAML produce it. */
const own = (key: string, value: unknown, rest: Record<string, unknown> = {}) => Object.assign(JSON.parse(`{${JSON.stringify(key)}: ${JSON.stringify(value)}}`), rest)

// [what, config, the field path the error must name]
const CASES: [string, unknown, string][] = [
  // huge numbers
  ['port 1e308', { syscalls: [r({ match: { port: 1e308 } })] }, 'syscalls[0].match.port'],
  ['port 2^53+1', { syscalls: [r({ match: { port: 2 ** 53 + 2 } })] }, 'syscalls[0].match.port'],
  ['port Infinity', { syscalls: [r({ match: { port: Infinity } })] }, 'syscalls[0].match.port'],
  ['port -0.5', { syscalls: [r({ match: { port: -0.5 } })] }, 'syscalls[0].match.port'],
  ['errno 1e21', { syscalls: [r({ errno: 1e21 })] }, 'syscalls[0].errno'],
  ['errno NaN', { syscalls: [r({ errno: NaN })] }, 'syscalls[0].errno'],
  ['ret -1e300', { syscalls: [{ name: 'r', syscall: 'connect', ret: -1e300 }] }, 'syscalls[0].ret'],
  ['ret -2^63-1', { syscalls: [{ name: 'r', syscall: 'connect', ret: -(2 ** 64) }] }, 'syscalls[0].ret'],
  ['nth 2^64', { syscalls: [r({ when: { nth: 2 ** 64 } })] }, 'syscalls[0].when.nth'],
  ['nth 1e100', { syscalls: [r({ when: { nth: 1e100 } })] }, 'syscalls[0].when.nth'],
  ['times 1e100', { syscalls: [r({ when: { times: 1e100 } })] }, 'syscalls[0].when.times'],
  ['times Infinity', { syscalls: [r({ when: { times: Infinity } })] }, 'syscalls[0].when.times'],
  ['probability 1e300', { syscalls: [r({ when: { probability: 1e300 } })] }, 'syscalls[0].when.probability'],
  ['probability NaN', { syscalls: [r({ when: { probability: NaN } })] }, 'syscalls[0].when.probability'],
  ['probability -1e-300', { syscalls: [r({ when: { probability: -1e-300 } })] }, 'syscalls[0].when.probability'],
  ['seed 2^70', { syscalls: [r({ when: { probability: 0.5, seed: 2 ** 70 } })] }, 'syscalls[0].when.seed'],
  ['after 1e30 ms', { syscalls: [r({ when: { after: 1e30 } })] }, 'syscalls[0].when.after'],
  ['after "1e30h"', { syscalls: [r({ when: { after: '1e30h' } })] }, 'syscalls[0].when.after'],
  ['after "99999999999999999999h"', { syscalls: [r({ when: { after: '99999999999999999999h' } })] }, 'syscalls[0].when.after'],
  ['after Infinity', { syscalls: [r({ when: { after: Infinity } })] }, 'syscalls[0].when.after'],
  ['network port 99999999999', { network: [n({ port: 99999999999 })] }, 'network[0].port'],
  ['network ports [1e308]', { network: [n({ ports: [1e308] })] }, 'network[0].ports'],
  ['network rate "1e30gbit"', { network: [n({ action: 'bandwidth', rate: '1e30gbit' })] }, 'network[0].rate'],
  ['network rate 1e308', { network: [n({ action: 'bandwidth', rate: 1e308 })] }, 'network[0].rate'],
  ['network delay "9999999999999h"', { network: [n({ action: 'delay', delay: '9999999999999h' })] }, 'network[0].delay'],
  ['network jitter 1e300', { network: [n({ action: 'delay', delay: '10ms', jitter: 1e300 })] }, 'network[0].jitter'],
  ['network probability 2', { network: [n({ when: { probability: 2 } })] }, 'network[0].when.probability'],
  ['network times 1e100', { network: [n({ when: { times: 1e100 } })] }, 'network[0].when.times'],
  // deep nesting
  ['match.port nested 1000 deep', { syscalls: [r({ match: { port: deep(1000, 'port', 80) } })] }, 'syscalls[0].match.port'],
  ['when.after nested 1000 deep', { syscalls: [r({ when: { after: deep(1000, 'after', 1) } })] }, 'syscalls[0].when.after'],
  ['syscalls nested arrays 1000 deep', { syscalls: deepArray(1000) }, 'syscalls[0]'],
  ['target.scope nested 1000 deep', { target: { scope: deep(1000, 'scope', 'tree') } }, 'target.scope'],
  ['unknown key holding 10 000 levels', { syscalls: [r()], extra: deep(10000, 'x', 1) }, 'extra'],
  ['network hosts nested 1000 deep', { network: [n({ hosts: deepArray(1000) })] }, 'network[0].hosts[0]'],
  ['match nested under match', { syscalls: [r({ match: { match: { port: 80 } } })] }, 'syscalls[0].match.match'],
  // wrong types
  ['syscalls a string', { syscalls: 'connect' }, 'syscalls'],
  ['syscalls a number', { syscalls: 42 }, 'syscalls'],
  ['syscalls null', { syscalls: null }, 'syscalls'],
  ['syscalls true', { syscalls: true }, 'syscalls'],
  ['config an array', [r()], ''],
  ['config null', null, ''],
  ['config a number', 42, ''],
  ['rule null', { syscalls: [null] }, 'syscalls[0]'],
  ['rule an array', { syscalls: [['connect']] }, 'syscalls[0]'],
  ['name a number', { syscalls: [r({ name: 42 })] }, 'syscalls[0].name'],
  ['name an array', { syscalls: [r({ name: ['a'] })] }, 'syscalls[0].name'],
  ['name an object', { syscalls: [r({ name: {} })] }, 'syscalls[0].name'],
  ['syscall a number', { syscalls: [r({ syscall: 42 })] }, 'syscalls[0].syscall'],
  ['syscall an array', { syscalls: [r({ syscall: ['connect'] })] }, 'syscalls[0].syscall'],
  ['syscall null', { syscalls: [r({ syscall: null })] }, 'syscalls[0].syscall'],
  ['errno true', { syscalls: [r({ errno: true })] }, 'syscalls[0].errno'],
  ['errno an object', { syscalls: [r({ errno: {} })] }, 'syscalls[0].errno'],
  ['errno an array', { syscalls: [r({ errno: ['EPERM'] })] }, 'syscalls[0].errno'],
  ['ret a string', { syscalls: [{ name: 'r', syscall: 'connect', ret: '-1' }] }, 'syscalls[0].ret'],
  ['match an array', { syscalls: [r({ match: [] })] }, 'syscalls[0].match'],
  ['match a string', { syscalls: [r({ match: 'port 80' })] }, 'syscalls[0].match'],
  ['match.port true', { syscalls: [r({ match: { port: true } })] }, 'syscalls[0].match.port'],
  ['match.port an array', { syscalls: [r({ match: { port: [80] } })] }, 'syscalls[0].match.port'],
  ['match.address a number', { syscalls: [r({ match: { address: 2130706433 } })] }, 'syscalls[0].match.address'],
  ['match.address an array', { syscalls: [r({ match: { address: ['127.0.0.1'] } })] }, 'syscalls[0].match.address'],
  ['match.family a number', { syscalls: [r({ match: { family: 2 } })] }, 'syscalls[0].match.family'],
  ['match.path a number', { syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', match: { path: 42 } }] }, 'syscalls[0].match.path'],
  ['match.path empty', { syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', match: { path: '' } }] }, 'syscalls[0].match.path'],
  ['match.path 128 bytes', { syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', match: { path: '/' + 'p'.repeat(127) } }] }, 'syscalls[0].match.path'],
  ['match.flags a string', { syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', match: { flags: 'O_CREAT' } }] }, 'syscalls[0].match.flags'],
  ['match.flags [42]', { syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', match: { flags: [42] } }] }, 'syscalls[0].match.flags[0]'],
  ['when an array', { syscalls: [r({ when: [] })] }, 'syscalls[0].when'],
  ['when a string', { syscalls: [r({ when: 'soon' })] }, 'syscalls[0].when'],
  ['when.after true', { syscalls: [r({ when: { after: true } })] }, 'syscalls[0].when.after'],
  ['when.probability a string', { syscalls: [r({ when: { probability: '0.5' } })] }, 'syscalls[0].when.probability'],
  ['when.probability null', { syscalls: [r({ when: { probability: null } })] }, 'syscalls[0].when.probability'],
  ['target an array', { target: [], syscalls: [r()] }, 'target'],
  ['target a string', { target: 'tree', syscalls: [r()] }, 'target'],
  ['target.scope a number', { target: { scope: 1 }, syscalls: [r()] }, 'target.scope'],
  ['target.comm a string', { target: { comm: 'node' }, syscalls: [r()] }, 'target.comm'],
  ['target.comm [42]', { target: { comm: [42] }, syscalls: [r()] }, 'target.comm[0]'],
  ['target.comm [""]', { target: { comm: [''] }, syscalls: [r()] }, 'target.comm[0]'],
  ['mechanism a number', { syscalls: [r({ mechanism: 42 })] }, 'syscalls[0].mechanism'],
  ['mechanism unknown', { syscalls: [r({ mechanism: 'ebpf' })] }, 'syscalls[0].mechanism'],
  ['network a string', { network: 'drop' }, 'network'],
  ['network rule a number', { network: [42] }, 'network[0]'],
  ['network action a number', { network: [n({ action: 42 })] }, 'network[0].action'],
  ['network direction a number', { network: [n({ direction: 1 })] }, 'network[0].direction'],
  ['network protocol sctp', { network: [n({ protocol: 'sctp' })] }, 'network[0].protocol'],
  ['network ports [0]', { network: [n({ ports: [0] })] }, 'network[0].ports'],
  ['network ports a string', { network: [n({ ports: '80,443' })] }, 'network[0].ports'],
  ['network hosts a string', { network: [n({ hosts: '127.0.0.1' })] }, 'network[0].hosts'],
  ['network hosts [42]', { network: [n({ hosts: [42] })] }, 'network[0].hosts[0]'],
  ['network allow [{}]', { network: [n({ allow: [{}] })] }, 'network[0].allow[0]'],
  ['network interface a number', { network: [n({ interface: 42 })] }, 'network[0].interface'],
  ['network stolen "yes"', { network: [n({ stolen: 'yes' })] }, 'network[0].stolen'],
  ['network comm 42', { network: [n({ comm: 42 })] }, 'network[0].comm'],
  // unknown syscalls and errnos
  ['syscall "conect"', { syscalls: [r({ syscall: 'conect' })] }, 'syscalls[0].syscall'],
  ['syscall ""', { syscalls: [r({ syscall: '' })] }, 'syscalls[0].syscall'],
  ['syscall "CONNECT"', { syscalls: [r({ syscall: 'CONNECT' })] }, 'syscalls[0].syscall'],
  ['syscall "__x64_sys_connect"', { syscalls: [r({ syscall: '__x64_sys_connect' })] }, 'syscalls[0].syscall'],
  ['syscall with a NUL', { syscalls: [r({ syscall: 'connect\0' })] }, 'syscalls[0].syscall'],
  ['syscall with a trailing space', { syscalls: [r({ syscall: 'connect ' })] }, 'syscalls[0].syscall'],
  ['syscall with a Cyrillic c', { syscalls: [r({ syscall: '\u0441onnect' })] }, 'syscalls[0].syscall'],
  ['syscall "../../etc/passwd"', { syscalls: [r({ syscall: '../../etc/passwd' })] }, 'syscalls[0].syscall'],
  ['errno "ECONREFUSED"', { syscalls: [r({ errno: 'ECONREFUSED' })] }, 'syscalls[0].errno'],
  ['errno "E"', { syscalls: [r({ errno: 'E' })] }, 'syscalls[0].errno'],
  ['errno "ENOTANERRNO"', { syscalls: [r({ errno: 'ENOTANERRNO' })] }, 'syscalls[0].errno'],
  ['errno 0', { syscalls: [r({ errno: 0 })] }, 'syscalls[0].errno'],
  ['errno 4096', { syscalls: [r({ errno: 4096 })] }, 'syscalls[0].errno'],
  ['errno 1.5', { syscalls: [r({ errno: 1.5 })] }, 'syscalls[0].errno'],
  ['errno "EPERM\\n"', { syscalls: [r({ errno: 'EPERM\n' })] }, 'syscalls[0].errno'],
  ['errno "toString"', { syscalls: [r({ errno: 'toString' })] }, 'syscalls[0].errno'],
  ['syscall "constructor"', { syscalls: [r({ syscall: 'constructor' })] }, 'syscalls[0].syscall'],
  ['syscall "hasOwnProperty"', { syscalls: [r({ syscall: 'hasOwnProperty' })] }, 'syscalls[0].syscall'],
  // 10 MB strings
  ['10 MB name', { syscalls: [r({ name: MB10 })] }, 'syscalls[0].name'],
  ['10 MB syscall', { syscalls: [r({ syscall: MB10 })] }, 'syscalls[0].syscall'],
  ['10 MB errno', { syscalls: [r({ errno: MB10 })] }, 'syscalls[0].errno'],
  ['10 MB path glob', { syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', match: { path: '/' + MB10 } }] }, 'syscalls[0].match.path'],
  ['10 MB address', { syscalls: [r({ match: { address: MB10 } })] }, 'syscalls[0].match.address'],
  ['10 MB comm', { target: { comm: [MB10] }, syscalls: [r()] }, 'target.comm[0]'],
  ['10 MB host', { network: [n({ hosts: [MB10] })] }, 'network[0].hosts[0]'],
  ['10 MB interface', { network: [n({ interface: MB10 })] }, 'network[0].interface'],
  ['10 MB duration', { syscalls: [r({ when: { after: MB10 } })] }, 'syscalls[0].when.after'],
  ['10 MB key', { syscalls: [r({ [MB10.slice(0, 1024 * 1024)]: 1 })] }, `syscalls[0].${MB10.slice(0, 1024 * 1024)}`],
  // duplicate names and limits
  ['duplicate syscall rule names', { syscalls: [r(), r()] }, 'syscalls[1].name'],
  ['duplicate network rule names', { network: [n(), n()] }, 'network[1].name'],
  ['a network rule named like a syscall rule', { syscalls: [r({ name: 'x' })], network: [n({ name: 'x' })] }, 'network[0].name'],
  ['a duplicate among 50', { syscalls: Array.from({ length: 50 }, (_, i) => r({ name: i === 49 ? 'r7' : `r${i}` })) }, 'syscalls[49].name'],
  ['65 syscall rules (64 at most)', { syscalls: Array.from({ length: 65 }, (_, i) => r({ name: `r${i}` })) }, 'syscalls[64]'],
  ['17 network rules (16 at most)', { network: Array.from({ length: 17 }, (_, i) => n({ name: `n${i}` })) }, 'network[16]'],
  ['33 comms (32 at most)', { target: { comm: Array.from({ length: 33 }, (_, i) => `c${i}`) }, syscalls: [r()] }, 'target.comm[32]'],
  // __proto__ and friends
  ['"__proto__" at the top', own('__proto__', { syscalls: [r()] }), '__proto__'],
  ['"__proto__" in a rule, hiding its errno', { syscalls: [own('__proto__', { errno: 'EPERM' }, { name: 'r', syscall: 'connect' })] }, 'syscalls[0].__proto__'],
  ['"__proto__" in match', { syscalls: [r({ match: own('__proto__', { port: 80 }) })] }, 'syscalls[0].match.__proto__'],
  ['"__proto__" in when', { syscalls: [r({ when: own('__proto__', { nth: 1 }) })] }, 'syscalls[0].when.__proto__'],
  ['"__proto__" in target', { target: own('__proto__', { scope: 'system' }), syscalls: [r()] }, 'target.__proto__'],
  ['"__proto__" in a network rule', { network: [own('__proto__', { action: 'drop' }, { name: 'n' })] }, 'network[0].__proto__'],
  ['"constructor" at the top', own('constructor', { prototype: { polluted: true } }), 'constructor'],
  ['"prototype" in a rule', { syscalls: [r({ prototype: { errno: 'EPERM' } })] }, 'syscalls[0].prototype'],
  ['syscalls given as {"__proto__": []}', { syscalls: own('__proto__', []) }, 'syscalls'],
]

/** YAML block style; flow style (JSON, which YAML 1.2 reads) where the yaml library's stringifier runs out of stack. */
function yamlText(cfg: unknown): string {
  try {
    return YAML.stringify(cfg, { aliasDuplicateObjects: false }) ?? ''
  } catch {
    return flowText(cfg)
  }
}

/** JSON.stringify without recursion (a 10 000-level value overflows the stack of both stringifiers). */
function flowText(v: unknown): string {
  class Raw {
    constructor(readonly text: string) {}
  }
  const out: string[] = []
  const todo: unknown[] = [v]
  while (todo.length) {
    const x = todo.pop()
    if (x instanceof Raw) out.push(x.text)
    else if (Array.isArray(x)) todo.push(new Raw(']'), ...x.flatMap((e, i) => (i ? [new Raw(','), e] : [e])).reverse(), new Raw('['))
    else if (x && typeof x === 'object') todo.push(new Raw('}'), ...Object.entries(x).flatMap(([k, e], i) => [...(i ? [new Raw(',')] : []), new Raw(`${JSON.stringify(k)}:`), e]).reverse(), new Raw('{'))
    else out.push(JSON.stringify(x) ?? 'null')
  }
  return out.join('')
}

const tcLock = kernelLock('tc')
beforeAll(tcLock.acquire, 600_000)
afterAll(tcLock.release)

describe('hostile input', () => {
  it(`${CASES.length} invalid configs, as objects and as YAML, are refused naming the field; nothing reaches the kernel`, async () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-hostile-'))
    const before = kernelView()
    expect(before.links.length + before.progs.length).toBe(0) // this process never armed
    const other: string[] = []
    let refusedWithPath = 0
    let slowest = { ms: 0, what: '' }
    const judge = (what: string, field: string, ms: number, outcome: { error: string; paths: string[]; message?: string; bpfFds?: number } | 'timeout') => {
      if (ms > slowest.ms) slowest = { ms, what }
      if (outcome === 'timeout') return other.push(`${what}: not refused within ${BIG_TIMEOUT_MS / 1000} s (the arming process was killed)`)
      // Block-style YAML nested past the yaml library's recursion cannot be read into fields; it
      // is refused naming its line and column instead (flow style / JSON still gets the path).
      const tooDeepAt = what.endsWith('(YAML)') && /YAML line \d+, column \d+: nested too deeply/.test(outcome.message ?? '')
      if (outcome.error === 'ConfigError' && (outcome.paths.includes(field) || tooDeepAt)) refusedWithPath++
      else other.push(`${what}: ${outcome.error === 'none' ? 'ARMED' : outcome.error === 'ConfigError' ? `ConfigError naming ${outcome.paths.map((p) => p.slice(0, 60)).join(', ')}, not ${field.slice(0, 60)}` : `${outcome.error}: ${outcome.message?.slice(0, 200)}`}`)
      if (outcome.bpfFds) other.push(`${what}: reached the kernel: the arming process held ${outcome.bpfFds} BPF objects afterwards`)
    }
    // Most cases here, in this process (which must hold no BPF object after any of them).
    const check = async (what: string, source: unknown, field: string) => {
      const pre = bpfIdsOf()
      const t = performance.now()
      const err = await withFailureConfig(source as never, async () => 'armed').then(() => undefined, (e: unknown) => e)
      const e = err as Error | undefined
      judge(what, field, performance.now() - t, { error: e === undefined ? 'none' : e.constructor.name, paths: err instanceof ConfigError ? err.issues.map((i) => i.path) : [], message: e?.message })
      // Only what this case added: after a config that got past validation, the programs stay loaded.
      const held = bpfIdsOf()
      const added = { progs: held.progs.filter((i) => !pre.progs.includes(i)), maps: held.maps.filter((i) => !pre.maps.includes(i)), links: held.links.filter((i) => !pre.links.includes(i)) }
      if (added.links.length + added.progs.length + added.maps.length) other.push(`${what}: reached the kernel: ${added.progs.length} programs and ${added.maps.length} maps loaded, ${added.links.length} links`)
    }
    // 10 MB strings and deep nesting in a child process each, killed after BIG_TIMEOUT_MS: a
    // validator that takes hours on one is a finding, not a hung suite.
    const checkInChild = async (what: string, source: unknown, field: string) => {
      const t = performance.now()
      const child = spawn(process.execPath, [REFUSE_ALL], { env: { ...process.env, FAULTLINE_CORE: CORE }, stdio: ['pipe', 'pipe', 'inherit'] })
      let out = ''
      child.stdout!.on('data', (d) => (out += d))
      child.stdin!.end(`[${flowText(source)}]`)
      const timer = setTimeout(() => child.kill('SIGKILL'), BIG_TIMEOUT_MS)
      const status = await new Promise((resolve) => child.on('close', (code, sig) => resolve(sig ?? code)))
      clearTimeout(timer)
      if (status === 'SIGKILL') return judge(what, field, performance.now() - t, 'timeout')
      const res = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { results: { error: string; paths: string[] }[]; bpfFds: number }
      judge(what, field, performance.now() - t, { ...res.results[0]!, bpfFds: res.bpfFds })
    }
    for (const [what, cfg, field] of CASES) {
      const big = /10 MB|deep|levels/.test(what)
      const file = path.join(dir, `case.yaml`)
      fs.writeFileSync(file, yamlText(cfg))
      if (big) {
        await checkInChild(`${what} (object)`, cfg, field)
        await checkInChild(`${what} (YAML)`, file, field)
      } else {
        await check(`${what} (object)`, cfg, field)
        await check(`${what} (YAML)`, file, field)
      }
    }
    const after = kernelView()
    const polluted = ['polluted', 'errno', 'port', 'syscalls', 'action', 'scope', 'nth'].filter((k) => k in {})
    recordFigures('hostile', { cases: CASES.length, refusedWithPath, otherOutcomes: other, slowestMs: Math.round(slowest.ms), slowestCase: slowest.what, viewUnchanged: JSON.stringify(after) === JSON.stringify(before), polluted })
    fs.rmSync(dir, { recursive: true, force: true })
    expect(other).toEqual([])
    expect(after).toEqual(before)
    expect(polluted).toEqual([])
  })
})
