/**
 * Syscall faults inside a real OCI container (runc): openat fails for the test process and its
 * child in the container, not for a bystander there nor for the host. Needs a syscall mechanism
 * for openat (lsm, fmod_ret, kprobe override): debian-6.12 of the VM matrix runs it. The other
 * container scenarios are containers.test.ts.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { startContainer, deleteContainers, finished, CONTAINER_RUN, PRIVILEGES } from '../support/container.js'
import { skipUnlessAny, skipUnlessRunc } from '../support/requires.js'

const RUN = CONTAINER_RUN
/** Starting containers under TCG on a loaded machine takes tens of seconds. */
const SLOW = 300_000
afterEach(deleteContainers)

describe.each(PRIVILEGES)('syscall faults in a container, %s', (_label, privileges) => {
  it('fails openat of one file for the test process and its child, not for a bystander or the host', async (ctx) => {
    skipUnlessRunc(ctx)
    skipUnlessAny(ctx, 'lsm', 'security-fmod-ret', 'fmod-ret-syscall', 'kprobe-override')
    // /tmp is the container's own tmpfs: the file is made inside, the host opens its own path
    const file = '/tmp/fl-guarded'
    const c = startContainer({
      ...privileges,
      args: ['sh', '-c', `echo x > ${file} && node ${RUN} '${JSON.stringify({
        config: { syscalls: [{ name: 'no-open', syscall: 'openat', errno: 'EACCES', match: { path: file } }] },
        steps: [{ open: file }, { childOpen: file }, { open: '/etc/hostname' }],
        after: [{ open: file }],
      })}'`],
    })
    const done = await finished(c)
    expect(done.results).toEqual(['EACCES', 'EACCES', 'ok'])
    expect(done.fired).toEqual({ 'no-open': 2 })
    expect(done.after).toEqual(['ok'])
  }, SLOW)
})
