/** Config validation: every bad config is refused with the field's path and a useful message. */
import { describe, it, expect } from 'vitest'
import { fileURLToPath } from 'node:url'
import { validateConfig, isValidatedConfig, retargetConfig, parseConfig, loadConfigSync, ConfigError, parseAddress, parseDuration } from '../../packages/core/src/config/index.js'
import { BAD_CONFIGS, rule } from '../fixtures/bad-configs.js'
import { mechanismCoverage } from '../../packages/core/src/kernel/mechanisms.js'

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    validateConfig(input)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

const BAD = BAD_CONFIGS

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

  it('a network rule\'s interface is a name, a list or \'*\'; its comm a list of process names', () => {
    const c = validateConfig({ network: [{ name: 'a', action: 'drop', interface: 'eth0' }, { name: 'b', action: 'drop', interface: ['lo', 'eth0'] }, { name: 'c', action: 'drop', interface: '*', comm: ['curl'] }] })
    expect(c.network.map((r) => r.interface)).toEqual([['eth0'], ['lo', 'eth0'], ['*']])
    expect(c.network[2]!.comm).toEqual(['curl'])
    for (const [field, value, message] of [
      ['interface', ['*', 'lo'], /a list of them, or '\*'/],
      ['interface', [], /must be an interface name/],
      ['comm', 42, /must be an array of process names \(at least one\)/],
      ['comm', [], /must be an array of process names \(at least one\)/],
      ['comm[0]', ['a-name-longer-than-15'], /longer than 15 bytes/],
    ] as const) {
      const key = field.replace(/\[\d+\]$/, '')
      const hit = issuesOf({ network: [{ name: 'x', action: 'drop', [key]: value }] }).find((i) => i.path === `network[0].${field}`)
      expect(hit?.message, `${field}: ${JSON.stringify(value)}`).toMatch(message)
    }
  })

  it('a network rule\'s when.nth (the nth matching connection) is kept, for packet actions and reset', () => {
    const c = validateConfig({ network: [{ name: 'a', action: 'drop', when: { nth: 2 } }, { name: 'b', action: 'reset', when: { nth: 3, after: '1s' } }, { name: 'c', action: 'corrupt' }] })
    expect(c.network.map((r) => r.when.nth)).toEqual([2, 3, 0])
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

describe('retargetConfig (faultline run --scope/--comm)', () => {
  it('gives a validated config with the new target, the rules untouched', () => {
    const c = validateConfig({ syscalls: [{ name: 'w', syscall: 'write', errno: 'ENOSPC', when: { after: '1s' } }] })
    const r = retargetConfig(c, { scope: 'system', comm: ['app'] }, ['note'])
    expect([isValidatedConfig(r), r.target, r.syscalls, r.warnings]).toEqual([true, { scope: 'system', comm: ['app'] }, c.syscalls, ['note']])
  })
  it("refuses a target the rules cannot have, as validateConfig does: a delay on the caller's own tree", () => {
    const c = validateConfig({ target: { scope: 'children' }, syscalls: [{ name: 'd', syscall: 'openat', delay: '1s' }] })
    expect(() => retargetConfig(c, { scope: 'tree', comm: [] })).toThrow(/syscalls\[0\]\.delay/)
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
  it('gives each field error the line and column of its YAML node (the key, for an unknown key)', () => {
    try {
      parseConfig('syscalls:\n  - name: db\n    syscall: connect\n    errno: ECONREFUSED\n    mtach: {}\n  - name: db2\n    syscall: connect\n', 'x.yaml')
      throw new Error('expected a ConfigError')
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        expect.objectContaining({ path: 'syscalls[0].mtach', line: 5, column: 5 }),
        expect.objectContaining({ path: 'syscalls[0].errno', line: 4, column: 12 }),
        expect.objectContaining({ path: 'syscalls[1]', line: 6, column: 5 }), // needs errno: the rule itself
      ])
    }
  })
  it('positions Minderbinder fields too', () => {
    try {
      parseConfig('agents_of_chaos:\n  syscall:\n    - name: x\n      syscall: openat\n      ret_code: -2\n      targets: [{ process_name: curl }]\n      failure_rate: 150\n')
      throw new Error('expected a ConfigError')
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([expect.objectContaining({ path: 'agents_of_chaos.syscall[0].failure_rate', line: 7, column: 21 })])
    }
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
  it('refuses more than 32 process names across its rules, at the document', () => {
    const rules = Array.from({ length: 33 }, (_, i) => `    - { name: r${i}, syscall: openat, ret_code: -2, targets: [{ process_name: p${i} }] }`).join('\n')
    expect(() => parseConfig(`agents_of_chaos:\n  syscall:\n${rules}\n`)).toThrow(/ agents_of_chaos: targets of all rules together: at most 32 process names; this list has 33/)
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

describe('dns rules', () => {
  it('normalize: the pattern in lower case without the trailing dot, when as for network rules', () => {
    const c = validateConfig({ dns: [{ name: 'API.Example.COM.', answer: 'servfail', when: { times: 2, after: '1s' } }, { name: '*.cache.internal', answer: 'timeout' }] })
    expect(c.dns).toEqual([
      { name: 'API.Example.COM.', pattern: 'api.example.com', answer: 'servfail', when: { afterMs: 1000, nth: 0, times: 2, probability: 1, seed: undefined }, path: 'dns[0]' },
      { name: '*.cache.internal', pattern: '*.cache.internal', answer: 'timeout', when: { afterMs: 0, nth: 0, times: 0, probability: 1, seed: undefined }, path: 'dns[1]' },
    ])
    expect(validateConfig({ syscalls: [] }).dns).toEqual([])
  })
  it('YAML: an error names its line', () => {
    try {
      parseConfig('dns:\n  - name: api.example.com\n    answer: refused\n', 'x.yaml')
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([expect.objectContaining({ path: 'dns[0].answer', line: 3, column: 13 })])
    }
  })
})

describe("doctor's syscall lists", () => {
  it('name only calls of the architecture: arm64 has openat and unlinkat, not open or unlink', () => {
    const lsm = (arch: 'x86_64' | 'arm64') => mechanismCoverage(arch).find((m) => m.mechanism === 'lsm')!.syscalls as string[]
    expect(lsm('x86_64')).toEqual(expect.arrayContaining(['open', 'openat', 'unlink', 'unlinkat']))
    expect(lsm('arm64')).toEqual(expect.arrayContaining(['openat', 'unlinkat']))
    expect(lsm('arm64')).not.toContain('open')
    expect(lsm('arm64')).not.toContain('unlink')
  })
})
