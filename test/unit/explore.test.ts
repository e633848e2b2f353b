/** Explore's planning and formatting, without the kernel: the configs each run arms, the order of runs, the classification. */
import { describe, it, expect } from 'vitest'
import { parse } from 'yaml'
import { validateConfig } from '../../packages/core/src/config/index.js'
import { censusConfig, classify, planRuns, ruleInput, runConfig } from '../../packages/core/src/explore/plan.js'
import { formatExploreReport, formatFindings, reproYaml } from '../../packages/core/src/explore/format.js'
import type { ExploreRun } from '../../packages/core/src/explore/types.js'
import { INTERPRETER_COMM, planSiteRuns } from '../../packages/core/src/explore/sites.js'

const config = validateConfig({
  target: { scope: 'children', comm: ['svc'] },
  syscalls: [
    { name: 'db', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: 5432, address: '10.0.0.0/8', family: 'inet' }, when: { after: '250ms', probability: 0.5, seed: 3 } },
    { name: 'raw', syscall: 'openat', ret: -5, match: { path: '/etc/*.conf', flags: ['O_CREAT'] }, mechanism: 'lsm', when: { times: 2 } },
    { name: 'slow', syscall: 'openat', delay: '200ms', jitter: 50, match: { path: '/data/*' } },
    { name: 'fd', syscall: 'write', errno: 'EIO', match: { fd: '/data/*' } },
    { name: 'flip', syscall: 'read', corrupt: { bytes: 2, seed: 9 }, match: { path: '/data/*' } },
  ],
})

describe('explore planning', () => {
  it('a rule back in input form validates to the same rule (when aside)', () => {
    for (const rule of config.syscalls) {
      const again = validateConfig({ target: { scope: 'children', comm: ['svc'] }, syscalls: [ruleInput(rule)] }).syscalls[0]!
      expect({ ...again, when: undefined, path: undefined }).toEqual({ ...rule, when: undefined, path: undefined })
    }
  })

  it('the census counts every rule and fails none: probability 0, after kept, nth/times/seed dropped', () => {
    const c = validateConfig(censusConfig(config))
    expect(c.target).toEqual(config.target)
    expect(c.syscalls.map((r) => r.when)).toEqual([
      { afterMs: 250, nth: 0, times: 0, probability: 0, seed: undefined },
      ...Array(4).fill({ afterMs: 0, nth: 0, times: 0, probability: 0, seed: undefined }),
    ])
  })

  it('a run arms only its rule, failing the nth call', () => {
    const input = runConfig(config, config.syscalls[0]!, 2)
    expect(input.syscalls).toHaveLength(1)
    expect(validateConfig(input).syscalls[0]!.when).toEqual({ afterMs: 250, nth: 2, times: 0, probability: 1, seed: undefined })
  })

  it('network rules: back in input form they validate to the same rule; the census counts their connections as drop rules with probability 0; a run acts on the nth', () => {
    const net = validateConfig({
      target: { scope: 'children' },
      network: [
        { name: 'cut', action: 'reset', port: 5432, hosts: ['10.0.0.0/8'], after_bytes: 100, when: { after: '1s' } },
        { name: 'lossy', action: 'drop', direction: 'both', protocol: 'udp', ports: [53, 5353], allow: ['10.0.0.1'], interface: 'lo', stolen: true, mechanism: 'cls-bpf' },
        { name: 'slow', action: 'delay', delay: '50ms', jitter: '5ms', rate: '1mbit', interface: ['lo', 'eth0'], when: { probability: 0.5 } },
      ],
    })
    for (const rule of net.network) {
      const again = validateConfig(runConfig(net, rule, 2)).network[0]!
      expect({ ...again, when: undefined, path: undefined }).toEqual({ ...rule, when: undefined, path: undefined })
      expect(again.when).toEqual({ ...rule.when, nth: 2, probability: 1, seed: undefined })
    }
    const census = validateConfig(censusConfig(net))
    expect(census.syscalls).toEqual([])
    expect(census.network.map((r) => [r.name, r.action, r.direction, r.protocol, r.ports, r.when.probability, r.when.afterMs])).toEqual([
      ['cut', 'drop', 'both', 'tcp', [5432], 0, 1000],
      ['lossy', 'drop', 'both', 'udp', [53, 5353], 0, 0],
      ['slow', 'drop', 'egress', undefined, [], 0, 0],
    ])
    expect(census.network[0]!.hosts.map((h) => h.text)).toEqual(['10.0.0.0/8'])
    expect(census.network[1]!).toMatchObject({ interface: ['lo'], mechanism: 'cls-bpf', stolen: false })
    expect(runConfig(net, net.network[0]!, 3)).toEqual({ target: { scope: 'children' }, network: [{ name: 'cut', action: 'reset', port: 5432, hosts: ['10.0.0.0/8'], after_bytes: 100, when: { after: 1000, nth: 3 } }] })
  })

  it('runs go rule by rule, k from 1, up to maxRuns', () => {
    expect(planRuns(['a', 'b', 'c'], { a: 2, b: 0, c: 3 }, 4)).toEqual({
      runs: [{ rule: 'a', nth: 1 }, { rule: 'a', nth: 2 }, { rule: 'c', nth: 1 }, { rule: 'c', nth: 2 }],
      skipped: 1,
    })
  })

  it('classifies: hung before not-reached before crashed, failed, handled', () => {
    const end = { code: 0, signal: null, timedOut: false, fired: 1 }
    expect(classify(end)).toBe('handled')
    expect(classify({ ...end, code: 3 })).toBe('failed')
    expect(classify({ ...end, code: null, signal: 'SIGSEGV' })).toBe('crashed')
    expect(classify({ ...end, fired: 0, code: 3 })).toBe('not-reached')
    expect(classify({ ...end, timedOut: true, fired: 0 })).toBe('hung')
  })
})

describe('explore formatting', () => {
  const crashed: ExploreRun = { rule: 'db', nth: 2, fired: 1, outcome: 'crashed', exitCode: null, signal: 'SIGSEGV', ms: 12, config: runConfig(config, config.syscalls[0]!, 2) }
  const handled: ExploreRun = { ...crashed, nth: 1, outcome: 'handled', exitCode: 0, signal: null }
  const report = { census: { db: 2 }, runs: [handled, crashed], skipped: 0 }

  it('the repro YAML is the config the run armed', () => {
    expect(parse(reproYaml(crashed))).toEqual(crashed.config)
  })

  it('the CLI lists each run not handled with its YAML and stderr tail; the adapters in a few lines', () => {
    const text = formatFindings(report, () => 'line 1\nSegmentation fault\n')
    expect(text).toMatch(/^census: db matched 2x; 2 run\(s\): 1 handled, 1 crashed\n\ndb nth 2: crashed \(SIGSEGV\); reproduce with:\n {2}target:/)
    expect(text).toMatch(/ {6}when:\n {8}after: 250\n {8}nth: 2\n {2}# its stderr ended with:\n {2}# {3}line 1\n {2}# {3}Segmentation fault$/)
    expect(text).not.toMatch(/db nth 1/)
    expect(formatExploreReport(report, '  ')).toBe('explore: db matched 2x; 2 run(s): 1 handled, 1 crashed\n    db nth 2: crashed (SIGSEGV); reproduce with when: { nth: 2 }')
  })
})

describe('explore planning by call site', () => {
  const at = (nth: number, rets: bigint[], comm = 'client', stackId = 7, frames: bigint[] = [0x400100n]) => ({ nth, stackId, frames, rets, comm })
  const loop = [0x401000n, 0x402000n]
  const other = [0x401000n, 0x403000n]

  it('one run per distinct site, its first call, in order of first appearance, with how many calls share it', () => {
    const calls = [at(1, loop), at(2, loop), at(3, other), at(4, loop)]
    const plan = planSiteRuns(['refuse'], { refuse: 4 }, new Map([['refuse', calls]]), 100)
    expect(plan.runs.map((r) => [r.nth, r.site?.index, r.site?.calls])).toEqual([[1, 1, 3], [3, 2, 1]])
    expect(plan.runs[1]!.site!.frames).toEqual(['0x401000', '0x403000', '0x400100'])
    expect(plan.byCall).toEqual({})
  })

  it('a call with no site (not logged, or nothing readable) is a site of its own, never merged', () => {
    const calls = [at(1, loop), at(3, [], 'client', -14, [])]
    const plan = planSiteRuns(['r'], { r: 4 }, new Map([['r', calls]]), 100)
    expect(plan.runs.map((r) => r.nth)).toEqual([1, 2, 3, 4])
  })

  it("an interpreter's calls are explored call by call, and the report says why", () => {
    const calls = [at(1, loop, 'python3'), at(2, loop, 'python3'), at(3, loop, 'python3')]
    const plan = planSiteRuns(['r'], { r: 3 }, new Map([['r', calls]]), 100)
    expect(plan.runs.map((r) => r.nth)).toEqual([1, 2, 3])
    expect(plan.byCall.r).toMatch(/python3, whose native stack is the interpreter's/)
    expect(INTERPRETER_COMM.test('node')).toBe(true)
    expect(INTERPRETER_COMM.test('python3.11')).toBe(true)
    expect(INTERPRETER_COMM.test('postgres')).toBe(false)
  })

  it('a rule with no logged call falls back to k, saying so; --max-runs caps the sites', () => {
    const plan = planSiteRuns(['a', 'b'], { a: 2, b: 3 }, new Map([['a', [at(1, loop), at(2, loop)]], ['b', []]]), 2)
    expect(plan.runs.map((r) => [r.rule, r.nth])).toEqual([['a', 1], ['b', 1]])
    expect(plan.skipped).toBe(2)
    expect(plan.byCall.b).toMatch(/no call site was logged/)
  })

  it('a network rule (no entry in the site log) is explored connection by connection, without a site', () => {
    const plan = planSiteRuns(['a', 'net'], { a: 2, net: 2 }, new Map([['a', [at(1, loop), at(2, loop)]]]), 100)
    expect(plan.runs).toEqual([expect.objectContaining({ rule: 'a', nth: 1 }), { rule: 'net', nth: 1 }, { rule: 'net', nth: 2 }])
    expect(plan.byCall.net).toMatch(/network rule acts on packets/)
  })
})
