/** Explore's planning and formatting, without the kernel: the configs each run arms, the order of runs, the classification. */
import { describe, it, expect } from 'vitest'
import { parse } from 'yaml'
import { validateConfig } from '../../packages/core/src/config/index.js'
import { censusConfig, classify, planRuns, ruleInput, runConfig } from '../../packages/core/src/explore/plan.js'
import { formatExploreReport, formatFindings, reproYaml } from '../../packages/core/src/explore/format.js'
import type { ExploreRun } from '../../packages/core/src/explore/types.js'

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
