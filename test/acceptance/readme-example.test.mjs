// The README's first example, as a new user writes it: withFailureConfig from @faultline/core,
// called inside a test, with only `plugins: [faultline()]`. The plugin's report must show it.
import net from 'node:net'
import { test, expect } from 'vitest'
import { withFailureConfig } from '@faultline/core'

const connect = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1')
  c.on('connect', () => { c.destroy(); resolve('ok') })
  c.on('error', (e) => resolve(e.code))
})

test('answers 503 when the database refuses connections', async () => {
  const srv = net.createServer((s) => s.end()).listen(0, '127.0.0.1')
  await new Promise((r) => srv.on('listening', r))
  const port = srv.address().port
  await withFailureConfig({ syscalls: [{ name: 'readme-db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } }] }, async (faults) => {
    expect(await connect(port)).toBe('ECONNREFUSED')
    expect(faults.fired('readme-db-down')).toBeGreaterThan(0)
  })
  srv.close()
})
