// The README's quick start, as a new user copies it into a fresh project.
import net from 'node:net'
import { test, expect } from '@faultline/vitest-plugin/test'

const connect = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1')
  c.on('connect', () => { c.destroy(); resolve('ok') })
  c.on('error', (e) => resolve(e.code))
})

test('refused while armed, and the fault really fired', async ({ faults }) => {
  const srv = net.createServer((s) => s.end()).listen(0, '127.0.0.1')
  await new Promise((r) => srv.on('listening', r))
  const port = srv.address().port
  const r = await faults.with({ syscalls: [{ name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } }] }, () => connect(port))
  expect(r).toBe('ECONNREFUSED')
  expect(faults.last.fired('db-down')).toBe(1)
  expect(await connect(port)).toBe('ok')
  srv.close()
})
