// The Jest quick start (packages/jest-environment/README.md), as a new user copies it.
const net = require('node:net')
const connect = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1')
  c.on('connect', () => { c.destroy(); resolve('ok') })
  c.on('error', (e) => resolve(e.code))
})

test('refused while armed, and the fault really fired', async () => {
  const srv = net.createServer((s) => s.end()).listen(0, '127.0.0.1')
  await new Promise((r) => srv.on('listening', r))
  const port = srv.address().port
  const r = await faultline.with({ syscalls: [{ name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } }] }, async (faults) => {
    const code = await connect(port)
    expect(faults.fired('db-down')).toBe(1)
    return code
  })
  expect(r).toBe('ECONNREFUSED')
  expect(await connect(port)).toBe('ok')
  srv.close()
})
