/** The hand-encoded bpf_tc_hook / bpf_tc_opts (libbpf/tc.ts) agree with libbpf.h and the C compiler. */
import { describe, it, expect } from 'vitest'
import { tempDir } from '../support/temp-dir.js'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { TC_HOOK_SIZE, TC_OPTS_SIZE, encodeTcHook, encodeTcOpts } from '../../packages/core/src/libbpf/tc.js'

function cBytes(): { hook: string; opts: string } {
  const dir = tempDir('fl-tc-')
  const src = `#include <stdio.h>
#include <bpf/libbpf.h>
static void hex(const void *p, size_t n) { for (size_t i = 0; i < n; i++) printf("%02x", ((const unsigned char *)p)[i]); printf("\\n"); }
int main(void) {
  DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 7, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
  DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = 42, .handle = 0x123456, .priority = 0x0f17);
  hex(&hook, sizeof(hook));
  hex(&opts, sizeof(opts));
  return 0;
}`
  fs.writeFileSync(path.join(dir, 't.c'), src)
  execFileSync('cc', ['-o', path.join(dir, 't'), path.join(dir, 't.c')])
  const [hook, opts] = execFileSync(path.join(dir, 't'), { encoding: 'utf8' }).trim().split('\n')
  fs.rmSync(dir, { recursive: true, force: true })
  return { hook: hook!, opts: opts! }
}

describe('libbpf tc structs', () => {
  const c = cBytes()
  it('bpf_tc_hook: size and bytes', () => {
    expect(c.hook.length / 2).toBe(TC_HOOK_SIZE)
    expect(encodeTcHook(7, 3).toString('hex')).toBe(c.hook)
  })
  it('bpf_tc_opts: size and bytes', () => {
    expect(c.opts.length / 2).toBe(TC_OPTS_SIZE)
    expect(encodeTcOpts({ handle: 0x123456, priority: 0x0f17 }, 42).toString('hex')).toBe(c.opts)
  })
})
