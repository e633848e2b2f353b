// The README's quick start for node:test, as a new user copies it into a fresh project.
import net from 'node:net'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { withFaults } from '@faultline/core/node-test'

const connect = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1')
  c.on('connect', () => { c.destroy(); resolve('ok') })
  c.on('error', (e) => resolve(e.code))
})

test('refused while armed, and the fault really fired', async (t) => {
  const srv = net.createServer((s) => s.end()).listen(0, '127.0.0.1')
  await new Promise((r) => srv.on('listening', r))
  t.after(() => srv.close())
  const port = srv.address().port
  await withFaults(t, { syscalls: [{ name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } }] }, async (faults) => {
    assert.equal(await connect(port), 'ECONNREFUSED')
    assert.equal(faults.fired('db-down'), 1)
  }, { onUnsupported: 'skip' })
  assert.equal(await connect(port), 'ok')
})
