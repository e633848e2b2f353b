/** The TypeScript mirror of bpf/include/faultline.h agrees with the C compiler about every size and offset. */
import { describe, it, expect } from 'vitest'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { SIZEOF, RULE_OFFSETS, FL_MAX_RULES, FL_OP, prefixMask, probabilityThreshold, FL_PROB_ALWAYS } from '../../packages/core/src/engine/shared-layout.js'
import { seededDraw, predictSeededFailures } from '../../packages/core/src/engine/prng.js'
import { NET_SIZEOF } from '../../packages/core/src/engine/network/net-layout.js'
import { DNS_SIZEOF, FL_DNS_NAME_LEN, FL_MAX_DNS_RULES } from '../../packages/core/src/engine/dns/dns-layout.js'
import { RESET_STATE_SIZE } from '../../packages/core/src/engine/reset/reset-iterator.js'
import { CORRUPT_PARAMS } from '../../packages/core/src/engine/corrupt/corrupt-layout.js'
import { tempDir } from '../support/temp-dir.js'
import { FL_STATE_SITES } from '../../packages/core/src/engine/shared-layout.js'
import { FL_MAX_SITE_CALLS, FL_SITE_DEPTH, FL_SITE_RETS, FL_SITE_STACKS, SITE_KEY_SIZE, SITE_SIZE } from '../../packages/core/src/engine/call-sites/site-layout.js'

const INCLUDE = fileURLToPath(new URL('../../bpf/include', import.meta.url))

function cLayout(): Record<string, number> {
  const dir = tempDir('fl-layout-')
  const fields = Object.keys(RULE_OFFSETS).map((f) => `printf("\\"rule.${f}\\": %zu,", offsetof(struct fl_rule, ${f}));`).join('\n')
  const src = `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "faultline.h"
#include "net.h"
#include "dns.h"
#include "sites.h"
int main(void) {
  printf("{");
  printf("\\"fl_site\\": %zu, \\"fl_site_key\\": %zu, \\"FL_SITE_RETS\\": %d, \\"FL_SITE_DEPTH\\": %d,", sizeof(struct fl_site), sizeof(struct fl_site_key), FL_SITE_RETS, FL_SITE_DEPTH);
  printf("\\"FL_MAX_SITE_CALLS\\": %d, \\"FL_SITE_STACKS\\": %d, \\"FL_STATE_SITES\\": %u,", FL_MAX_SITE_CALLS, FL_SITE_STACKS, FL_STATE_SITES);
  printf("\\"fl_target\\": %zu,", sizeof(struct fl_target));
  printf("\\"fl_state\\": %zu,", sizeof(struct fl_state));
  printf("\\"fl_rule\\": %zu,", sizeof(struct fl_rule));
  printf("\\"fl_counters\\": %zu,", sizeof(struct fl_counters));
  printf("\\"fl_sysinfo\\": %zu,", sizeof(struct fl_sysinfo));
  printf("\\"fl_glob\\": %zu,", sizeof(struct fl_glob));
  printf("\\"fl_net_rule\\": %zu,", sizeof(struct fl_net_rule));
  printf("\\"fl_net_lpm_key\\": %zu,", sizeof(struct fl_net_lpm_key));
  printf("\\"fl_net_state\\": %zu,", sizeof(struct fl_net_state));
  printf("\\"fl_net_dev\\": %zu,", sizeof(struct fl_net_dev));
  printf("\\"net_rule.comm_mask\\": %zu, \\"net_rule.nth\\": %zu,", offsetof(struct fl_net_rule, comm_mask), offsetof(struct fl_net_rule, nth));
  printf("\\"fl_dns_rule\\": %zu,", sizeof(struct fl_dns_rule));
  printf("\\"fl_dns_state\\": %zu,", sizeof(struct fl_dns_state));
  printf("\\"FL_MAX_DNS_RULES\\": %d,", FL_MAX_DNS_RULES);
  printf("\\"FL_DNS_NAME_LEN\\": %d,", FL_DNS_NAME_LEN);
  ${fields}
  printf("\\"FL_MAX_RULES\\": %d,", FL_MAX_RULES);
  printf("\\"FL_OP_CONNECT\\": %d, \\"FL_OP_SETSOCKOPT\\": %d", FL_OP_CONNECT, FL_OP_SETSOCKOPT);
  printf("}");
  return 0;
}`
  fs.writeFileSync(path.join(dir, 'l.c'), src)
  execFileSync('cc', ['-I', INCLUDE, '-o', path.join(dir, 'l'), path.join(dir, 'l.c')])
  return JSON.parse(execFileSync(path.join(dir, 'l'), { encoding: 'utf8' })) as Record<string, number>
}

describe('layout', () => {
  const c = cLayout()
  it('struct sizes match', () => {
    for (const [name, size] of Object.entries(SIZEOF)) expect(c[name], name).toBe(size)
  })
  it('network struct sizes match', () => {
    for (const [name, size] of Object.entries(NET_SIZEOF)) expect(c[name], name).toBe(size)
  })
  it('fl_net_rule offsets match (encodeNetRule writes comm_mask at 64, nth at 68)', () => {
    expect([c['net_rule.comm_mask'], c['net_rule.nth']]).toEqual([64, 68])
  })
  it('dns struct sizes and limits match', () => {
    for (const [name, size] of Object.entries(DNS_SIZEOF)) expect(c[name], name).toBe(size)
    expect(c.FL_MAX_DNS_RULES).toBe(FL_MAX_DNS_RULES)
    expect(c.FL_DNS_NAME_LEN).toBe(FL_DNS_NAME_LEN)
  })
  it('fl_rule offsets match', () => {
    for (const [f, off] of Object.entries(RULE_OFFSETS)) expect(c[`rule.${f}`], f).toBe(off)
  })
  it('call-site structs and limits match (sites.h)', () => {
    expect({ fl_site: c.fl_site, fl_site_key: c.fl_site_key }).toEqual({ fl_site: SITE_SIZE, fl_site_key: SITE_KEY_SIZE })
    expect([c.FL_SITE_RETS, c.FL_SITE_DEPTH, c.FL_MAX_SITE_CALLS, c.FL_SITE_STACKS, c.FL_STATE_SITES]).toEqual([FL_SITE_RETS, FL_SITE_DEPTH, FL_MAX_SITE_CALLS, FL_SITE_STACKS, FL_STATE_SITES])
  })
  it('constants match', () => {
    expect(c.FL_MAX_RULES).toBe(FL_MAX_RULES)
    expect(c.FL_OP_CONNECT).toBe(FL_OP.connect)
    expect(c.FL_OP_SETSOCKOPT).toBe(FL_OP.setsockopt)
  })
  it('prefix masks', () => {
    expect([...prefixMask(4, 20)]).toEqual([0xff, 0xff, 0xf0, 0])
    expect([...prefixMask(4, 0)]).toEqual([0, 0, 0, 0])
    expect([...prefixMask(16, 128)].every((b) => b === 0xff)).toBe(true)
  })
  it('probability thresholds', () => {
    expect(probabilityThreshold(1)).toBe(FL_PROB_ALWAYS)
    expect(probabilityThreshold(0)).toBe(0)
    expect(probabilityThreshold(0.5)).toBe(2 ** 31)
    expect(probabilityThreshold(0.99999999999)).toBeLessThan(FL_PROB_ALWAYS)
  })
  it('seeded draws are splitmix64 (reference values) and roughly uniform', () => {
    // splitmix64 with state seed+golden: the first output for seed 0 is 0xe220a8397b1dcdaf
    expect(seededDraw(0, 0)).toBe(0xe220a839)
    const hits = predictSeededFailures(7, 0.3, 10_000).length
    expect(hits).toBeGreaterThan(2800)
    expect(hits).toBeLessThan(3200)
  })
})

/** A struct as the compiler laid it out in an object's BTF: its size and its members' byte offsets. */
function btfStruct(object: string, name: string): { size: number; offsets: Record<string, number> } {
  const file = fileURLToPath(new URL(`../../packages/core/bpf/${process.arch}/${object}`, import.meta.url))
  const btf = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', file], { encoding: 'utf8' })) as {
    types: { kind: string; name?: string; size?: number; members?: { name: string; bits_offset: number }[] }[]
  }
  const t = btf.types.find((x) => x.kind === 'STRUCT' && x.name === name)
  if (!t) throw new Error(`${object}: no struct ${name} in its BTF`)
  return { size: t.size ?? 0, offsets: Object.fromEntries((t.members ?? []).map((m) => [m.name, m.bits_offset / 8])) }
}

describe('structs of one object, written or read by the engine (read from the object BTF)', () => {
  it('fl_reset_state (engine/reset/reset-iterator.ts)', () => {
    expect(btfStruct('net.bpf.o', 'fl_reset_state')).toEqual({ size: RESET_STATE_SIZE, offsets: { doomed: 0, n_rules: 8, gen: 12, waiting: 16 } })
  })
  it('fl_corrupt (engine/corrupt/corrupt-layout.ts)', () => {
    expect(btfStruct('corrupt.bpf.o', 'fl_corrupt')).toEqual({ size: CORRUPT_PARAMS.size, offsets: { bytes: CORRUPT_PARAMS.bytes, _pad: 4, seed: CORRUPT_PARAMS.seed } })
  })
})
