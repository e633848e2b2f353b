/** Delay rules without the kernel: the layout of bpf/include/delay.h, and the pause drawn per stop. */
import { describe, it, expect } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { SIZEOF_DELAY_CFG, SIZEOF_DELAY_EVENT, decodeDelayEvent, drawPauseNs } from '../../packages/core/src/engine/delay/delay-layout.js'
import { validateConfig } from '../../packages/core/src/config/index.js'

const INCLUDE = fileURLToPath(new URL('../../bpf/include', import.meta.url))

describe('delay rules', () => {
  it('the TypeScript mirror agrees with delay.h', () => {
    const dir = tempDir('fl-delay-layout-')
    fs.writeFileSync(
      path.join(dir, 'l.c'),
      `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "delay.h"
int main(void) {
  printf("[%zu,%zu,%zu,%zu,%zu,%zu]", sizeof(struct fl_delay_event), sizeof(struct fl_delay_cfg),
    offsetof(struct fl_delay_event, stop_ns), offsetof(struct fl_delay_event, tgid), offsetof(struct fl_delay_event, vpid), offsetof(struct fl_delay_event, rule));
  return 0;
}`,
    )
    execFileSync('cc', ['-I', INCLUDE, '-o', path.join(dir, 'l'), path.join(dir, 'l.c')])
    const [event, cfg, stop, tgid, vpid, rule] = JSON.parse(execFileSync(path.join(dir, 'l'), { encoding: 'utf8' })) as number[]
    expect([event, cfg]).toEqual([SIZEOF_DELAY_EVENT, SIZEOF_DELAY_CFG])
    const b = Buffer.alloc(SIZEOF_DELAY_EVENT)
    b.writeBigUInt64LE(123n, stop!)
    b.writeUInt32LE(7, tgid!)
    b.writeUInt32LE(8, vpid!)
    b.writeUInt32LE(9, rule!)
    expect(decodeDelayEvent(b)).toEqual({ stopNs: 123n, tgid: 7, vpid: 8, rule: 9 })
  })

  it('the pause is uniform in delay +- jitter', () => {
    expect(drawPauseNs([200e6, 0])).toBe(200_000_000n)
    expect(drawPauseNs([200e6, 50e6], () => 0)).toBe(150_000_000n)
    expect(drawPauseNs([200e6, 50e6], () => 0.999999999)).toBeLessThanOrEqual(250_000_000n)
  })

  it('normalizes delay and jitter; a delayed call returns what it would have (ret 0)', () => {
    const c = validateConfig({ target: { scope: 'children' }, syscalls: [{ name: 'd', syscall: 'openat', delay: '1.5s', jitter: 100, match: { path: '/tmp/**', flags: ['O_CREAT'] } }] })
    expect(c.syscalls[0]).toMatchObject({ ret: 0, delay: { ms: 1500, jitterMs: 100 }, match: { path: '/tmp/**', flags: ['O_CREAT'] } })
  })
})
