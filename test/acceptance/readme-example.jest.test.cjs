// The README's first example under Jest: withFailureConfig required from @faultline/core inside a
// test (Jest loads it in the test's own realm). The environment's summary must show it.
const net = require('node:net')
const { withFailureConfig } = require('@faultline/core')
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
