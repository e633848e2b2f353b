/** Config validation: every bad config is refused with the field's path and a useful message. */
import { describe, it, expect } from 'vitest'
import { fileURLToPath } from 'node:url'
import { validateConfig, parseConfig, loadConfigSync, ConfigError, parseAddress, parseDuration } from '../../packages/core/src/config/index.js'

const rule = (extra: Record<string, unknown> = {}) => ({ name: 'r', syscall: 'connect', errno: 'ECONNREFUSED', ...extra })
function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    validateConfig(input)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

// [what, config, field path, message pattern]
const BAD: [string, unknown, string, RegExp][] = [
  ['not an object', 'connect', '', /must be an object/],
  ['unknown top-level key', { syscals: [] }, 'syscals', /unknown key; did you mean syscalls\?/],
  ['syscalls not an array', { syscalls: {} }, 'syscalls', /must be an array/],
  ['rule not an object', { syscalls: [42] }, 'syscalls[0]', /must be a rule object/],
  ['missing name', { syscalls: [{ syscall: 'connect', errno: 'EPERM' }] }, 'syscalls[0].name', /non-empty string/],
  ['empty name', { syscalls: [rule({ name: ' ' })] }, 'syscalls[0].name', /non-empty string/],
  ['duplicate names', { syscalls: [rule(), rule()] }, 'syscalls[1].name', /already the name of syscalls\[0\]/],
  ['unknown syscall', { syscalls: [rule({ syscall: 'conect' })] }, 'syscalls[0].syscall', /not a Linux syscall; did you mean connect\?/],
  ['unknown errno', { syscalls: [rule({ errno: 'ECONREFUSED' })] }, 'syscalls[0].errno', /"ECONREFUSED" is not an errno; did you mean ECONNREFUSED\?/],
  ['errno out of range', { syscalls: [rule({ errno: 5000 })] }, 'syscalls[0].errno', /1\.\.4095/],
  ['negative errno', { syscalls: [rule({ errno: -5 })] }, 'syscalls[0].errno', /use ret: -5/],
  ['errno and ret', { syscalls: [rule({ ret: -1 })] }, 'syscalls[0]', /not both/],
  ['neither errno nor ret', { syscalls: [{ name: 'r', syscall: 'connect' }] }, 'syscalls[0]', /needs errno/],
  ['positive ret', { syscalls: [{ name: 'r', syscall: 'connect', ret: 3 }] }, 'syscalls[0].ret', /negative/],
  ['unknown rule key', { syscalls: [rule({ mtach: {} })] }, 'syscalls[0].mtach', /did you mean match\?/],
  ['unknown match key', { syscalls: [rule({ match: { prot: 1 } })] }, 'syscalls[0].match.prot', /did you mean port\?.*allowed: port, address/],
  ['port too big', { syscalls: [rule({ match: { port: 70000 } })] }, 'syscalls[0].match.port', /1\.\.65535/],
  ['port not integer', { syscalls: [rule({ match: { port: '80' } })] }, 'syscalls[0].match.port', /integer/],
  ['bad address', { syscalls: [rule({ match: { address: '300.1.1.1' } })] }, 'syscalls[0].match.address', /not an IP address or CIDR/],
  ['bad prefix', { syscalls: [rule({ match: { address: '10.0.0.0/33' } })] }, 'syscalls[0].match.address', /prefix length must be 0\.\.32/],
  ['host bits past prefix', { syscalls: [rule({ match: { address: '10.1.2.3/8' } })] }, 'syscalls[0].match.address', /did you mean 10\.0\.0\.0\/8/],
  ['bad family', { syscalls: [rule({ match: { family: 'ipv4' } })] }, 'syscalls[0].match.family', /allowed: inet, inet6/],
  ['family contradicts address', { syscalls: [rule({ match: { address: '::1', family: 'inet' } })] }, 'syscalls[0].match.family', /contradicts/],
  ['port on socket()', { syscalls: [rule({ syscall: 'socket', match: { port: 80 } })] }, 'syscalls[0].match.port', /does not apply to socket/],
  ['path on connect', { syscalls: [rule({ match: { path: '/tmp/*' } })] }, 'syscalls[0].match.path', /does not apply to connect/],
  ['bad open flag', { syscalls: [{ name: 'o', syscall: 'openat', errno: 'ENOENT', match: { flags: ['O_CREATE'] } }] }, 'syscalls[0].match.flags[0]', /did you mean O_CREAT\?/],
  ['probability > 1', { syscalls: [rule({ when: { probability: 1.5 } })] }, 'syscalls[0].when.probability', /0 to 1/],
  ['seed without probability', { syscalls: [rule({ when: { seed: 3 } })] }, 'syscalls[0].when.seed', /nothing to seed/],
  ['negative seed', { syscalls: [rule({ when: { probability: 0.5, seed: -1 } })] }, 'syscalls[0].when.seed', /non-negative integer/],
  ['nth zero', { syscalls: [rule({ when: { nth: 0 } })] }, 'syscalls[0].when.nth', /positive integer/],
  ['times fractional', { syscalls: [rule({ when: { times: 1.5 } })] }, 'syscalls[0].when.times', /positive integer/],
  ['nth with times', { syscalls: [rule({ when: { nth: 2, times: 3 } })] }, 'syscalls[0].when.times', /contradicts/],
  ['bad duration', { syscalls: [rule({ when: { after: '5 minutes' } })] }, 'syscalls[0].when.after', /not a duration/],
  ['negative duration', { syscalls: [rule({ when: { after: -1 } })] }, 'syscalls[0].when.after', /not a duration/],
  ['unknown when key', { syscalls: [rule({ when: { afer: 1 } })] }, 'syscalls[0].when.afer', /did you mean after\?/],
  ['bad scope', { target: { scope: 'everything' }, syscalls: [] }, 'target.scope', /allowed: tree, children, system/],
  ['comm too long', { target: { comm: ['a-very-long-process-name'] } }, 'target.comm[0]', /longer than 15 bytes/],
  ['system without comm', { target: { scope: 'system' } }, 'target.comm', /needs a comm list/],
  ['network not an array', { network: { action: 'drop' } }, 'network', /must be an array/],
  ['network: unknown action', { network: [{ name: 'n', action: 'lose' }] }, 'network[0].action', /allowed: drop, corrupt, duplicate, delay, bandwidth/],
  ['network: bad direction', { network: [{ name: 'n', action: 'drop', direction: 'up' }] }, 'network[0].direction', /allowed: egress, ingress, both/],
  ['network: bad port', { network: [{ name: 'n', action: 'drop', port: 0 }] }, 'network[0].port', /1\.\.65535/],
  ['network: bad rate', { network: [{ name: 'n', action: 'bandwidth', rate: 'fast' }] }, 'network[0].rate', /e\.g\. "1mbit"/],
  ['network: rate on a drop rule', { network: [{ name: 'n', action: 'drop', rate: '1mbit' }] }, 'network[0].rate', /applies to actions bandwidth and delay only, not drop/],
  ['network: rate below 8kbit', { network: [{ name: 'n', action: 'bandwidth', rate: '100bit' }] }, 'network[0].rate', /below the smallest rate, 8kbit/],
  ['network: bandwidth without rate', { network: [{ name: 'n', action: 'bandwidth' }] }, 'network[0].rate', /needs rate/],
  ['network: delay without delay', { network: [{ name: 'n', action: 'delay', jitter: '5ms' }] }, 'network[0].delay', /needs delay/],
  ['network: delay on a drop rule', { network: [{ name: 'n', action: 'drop', delay: '10ms' }] }, 'network[0].delay', /applies to action delay only/],
  ['network: bad host', { network: [{ name: 'n', action: 'drop', hosts: ['10.0.0.0/40'] }] }, 'network[0].hosts[0]', /prefix length/],
  ['network: name shared with a syscall rule', { syscalls: [rule({ name: 'x' })], network: [{ name: 'x', action: 'drop' }] }, 'network[0].name', /also a syscall rule's name/],
  ['network: unknown mechanism', { network: [{ name: 'n', action: 'drop', mechanism: 'tc' }] }, 'network[0].mechanism', /"tc" is not a network mechanism; allowed: tcx, cls-bpf/],
  ['network: rules pin different mechanisms', { network: [{ name: 'a', action: 'drop', mechanism: 'tcx' }, { name: 'b', action: 'corrupt' }, { name: 'c', action: 'drop', mechanism: 'cls-bpf' }] }, 'network[2].mechanism', /"cls-bpf" contradicts network\[0\]\.mechanism "tcx".*share their TC programs/],
]

describe('validateConfig refuses bad configs, naming the field', () => {
  for (const [what, input, path, message] of BAD) {
    it(what, () => {
      const issues = issuesOf(input)
      const hit = issues.find((i) => i.path === path)
      expect(hit, `issues: ${JSON.stringify(issues)}`).toBeDefined()
      expect(hit!.message).toMatch(message)
    })
  }

  it('keeps a network rule\'s pinned mechanism; rules that pin the same one agree', () => {
    const c = validateConfig({ network: [{ name: 'a', action: 'drop', mechanism: 'cls-bpf' }, { name: 'b', action: 'duplicate' }, { name: 'c', action: 'corrupt', mechanism: 'cls-bpf' }] })
    expect(c.network.map((r) => r.mechanism)).toEqual(['cls-bpf', undefined, 'cls-bpf'])
  })

  it('reports every problem at once, one line per field', () => {
    let err: ConfigError | undefined
    try {
      validateConfig({ syscalls: [rule({ errno: 'ENOPE' }), rule({ name: 'b', match: { port: 0 } })] })
    } catch (e) {
      err = e as ConfigError
    }
    expect(err?.issues.map((i) => i.path)).toEqual(['syscalls[0].errno', 'syscalls[1].match.port'])
    expect(err?.message).toMatch(/2 problem\(s\), nothing was armed\n  syscalls\[0\]\.errno: .*\n  syscalls\[1\]\.match\.port: /)
  })
})

describe('validateConfig normalizes good configs', () => {
  it('fills defaults and resolves errno names', () => {
    const c = validateConfig({ syscalls: [rule()] })
    expect(c.target).toEqual({ scope: 'tree', comm: [] })
    expect(c.syscalls[0]).toMatchObject({ name: 'r', syscall: 'connect', ret: -111, errnoName: 'ECONNREFUSED', path: 'syscalls[0]', when: { afterMs: 0, nth: 0, times: 0, probability: 1, seed: undefined } })
  })
  it('accepts errno numbers, raw ret, durations and CIDRs', () => {
    const c = validateConfig({
      syscalls: [
        rule({ errno: 113, when: { after: '1.5s', probability: 0.25, seed: 7 } }),
        { name: 'b', syscall: 'bind', ret: -98, match: { address: 'fd00::/8', port: 8080 } },
      ],
    })
    expect(c.syscalls[0]).toMatchObject({ ret: -113, errnoName: 'EHOSTUNREACH', when: { afterMs: 1500, probability: 0.25, seed: 7 } })
    expect(c.syscalls[1]!.match.address).toMatchObject({ family: 'inet6', prefixLen: 8 })
    expect(c.syscalls[1]!.errnoName).toBe('EADDRINUSE')
  })
  it('warns about an unfiltered write rule on the caller, not when scoped to children', () => {
    const w = validateConfig({ syscalls: [{ name: 'w', syscall: 'write', errno: 'ENOSPC' }] }).warnings
    expect(w[0]).toMatch(/syscalls\[0\] \(w\): an unfiltered write rule .* scope: 'children'/)
    expect(validateConfig({ target: { scope: 'children' }, syscalls: [{ name: 'w', syscall: 'write', errno: 'ENOSPC' }] }).warnings).toEqual([])
  })
  it('returns an already validated config as it is', () => {
    const c = validateConfig({ syscalls: [rule()] })
    expect(validateConfig(c)).toBe(c)
  })
})

describe('YAML', () => {
  it('parses the same shape as the object form', () => {
    const c = parseConfig('target: { scope: children }\nsyscalls:\n  - name: db\n    syscall: connect\n    errno: ECONNREFUSED\n    match: { port: 5432 }\n    when: { times: 2 }\n')
    expect(c.target.scope).toBe('children')
    expect(c.syscalls[0]).toMatchObject({ name: 'db', ret: -111, match: { port: 5432 }, when: { times: 2 } })
  })
  it('reports YAML syntax errors with line and column', () => {
    expect(() => parseConfig('syscalls:\n  - name: [unclosed\n', 'x.yaml')).toThrow(/x\.yaml.*\n.*YAML line \d+, column \d+/)
  })
  it('reports a missing file as a ConfigError', () => {
    expect(() => loadConfigSync('/nonexistent/faults.yaml')).toThrow(/cannot read \/nonexistent\/faults\.yaml: ENOENT/)
  })
})

describe("Minderbinder's YAML", () => {
  const c = loadConfigSync(fileURLToPath(new URL('fixtures/minderbinder.yaml', import.meta.url)))
  it('targets the named processes anywhere, each rule its own', () => {
    expect(c.target).toEqual({ scope: 'system', comm: ['curl', 'vim', 'cat', 'wget'] })
    expect(c.syscalls.map((r) => r.comm)).toEqual([['curl'], ['vim', 'cat']])
  })
  it('keeps ret_code, counts delay_ms from exec and reads failure_rate as a percentage', () => {
    expect(c.syscalls[0]).toMatchObject({ name: 'break_curl_openat', syscall: 'openat', ret: -2, errnoName: 'ENOENT', when: { afterMs: 100, probability: 1 } })
    expect(c.syscalls[1]).toMatchObject({ ret: -1, when: { afterMs: 100, probability: 0.5 } })
  })
  it('turns outgoing_network into egress drop rules', () => {
    expect(c.network).toEqual([
      expect.objectContaining({ name: 'break_wget_network', action: 'drop', direction: 'egress', comm: ['wget'], when: expect.objectContaining({ afterMs: 100, probability: 1 }) }),
    ])
  })
  it('names Minderbinder fields in errors', () => {
    expect(() => parseConfig('agents_of_chaos:\n  syscall:\n    - name: x\n      syscall: openat\n      ret_code: 2\n      targets: [{ process_name: curl }]\n      failure_rate: 150\n')).toThrow(
      /agents_of_chaos\.syscall\[0\]\.failure_rate: must be a percentage[\s\S]*agents_of_chaos\.syscall\[0\]\.ret_code: must be a negative/,
    )
  })
})

describe('parsers', () => {
  it('addresses', () => {
    expect(parseAddress('127.0.0.1')).toMatchObject({ family: 'inet', prefixLen: 32, bytes: Uint8Array.from([127, 0, 0, 1]) })
    expect(parseAddress('::ffff:10.0.0.1')).toMatchObject({ family: 'inet6', bytes: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]) })
    expect(parseAddress('2001:db8::/32')).toMatchObject({ prefixLen: 32 })
    expect(parseAddress('localhost')).toMatch(/not an IP address/)
  })
  it('durations', () => {
    expect(parseDuration(250)).toBe(250)
    expect(parseDuration('2s')).toBe(2000)
    expect(parseDuration('1m')).toBe(60000)
    expect(parseDuration('10 ms')).toBe(10)
    expect(parseDuration('fast')).toMatch(/not a duration/)
  })
})
