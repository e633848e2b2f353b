// Run with: npx vitest run --root examples/quickstart  (as root; see the top-level README)
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import http from 'node:http'
import { withFailureConfig } from '@faultline/core'
import { profile } from './service.mjs'

let upstream
let port
beforeAll(async () => {
  // Connection: close, so every request dials anew. A kept-alive connection makes no connect()
  // call, and a connect rule only fails new connections (Node's global agent keeps them alive).
  upstream = http.createServer((req, res) => {
    res.setHeader('Connection', 'close')
    res.end(JSON.stringify({ id: req.url.split('/').pop(), name: 'Ada' }))
  })
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r))
  port = upstream.address().port
})
afterAll(() => upstream.close())

describe('profile()', () => {
  it('answers 200 when the upstream is up', async () => {
    expect(await profile(port, 7)).toMatchObject({ status: 200, body: { name: 'Ada' } })
  })

  it('answers 503 when the upstream refuses every connection', async () => {
    await withFailureConfig(
      { syscalls: [{ name: 'upstream-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } }] },
      async (faults) => {
        const res = await profile(port, 7)
        expect(res).toMatchObject({ status: 503, body: { error: 'upstream unavailable: ECONNREFUSED' }, attempts: 3 })
        expect(faults.fired('upstream-down')).toBe(3) // the kernel really refused three connects
      },
    )
  })

  it('recovers when only the first connection is refused', async () => {
    await withFailureConfig(
      { syscalls: [{ name: 'blip', syscall: 'connect', errno: 'ECONNREFUSED', match: { port }, when: { nth: 1 } }] },
      async (faults) => {
        expect(await profile(port, 7)).toMatchObject({ status: 200, attempts: 2 })
        expect(faults.fired('blip')).toBe(1)
      },
    )
  })

  it('is back to normal after the callback', async () => {
    expect(await profile(port, 7)).toMatchObject({ status: 200, attempts: 1 })
  })
})
