// Jest: the same service under database faults, through @faultline/jest-environment.
// Run: npx jest --config examples/postgres-service/jest.config.cjs
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

let db, service, configPath, get, startService
const logs = []
beforeAll(async () => {
  ;({ startPostgres: startPg } = await import('./postgres.mjs'))
  ;({ startService, get } = await import('./service.mjs'))
  db = await startPg()
  configPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fl-svc-')), 'config.json')
  fs.writeFileSync(configPath, JSON.stringify({ dbPort: db.port }))
  service = await startService({ configPath, log: (l) => logs.push(l) })
}, 60_000)
let startPg
afterAll(async () => {
  await service?.close()
  db?.stop()
  if (configPath) fs.rmSync(path.dirname(configPath), { recursive: true, force: true })
})

test('503 and a clear log line when the database refuses connections', async () => {
  const res = await faultline.with({ syscalls: [{ name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: db.port } }] }, async (f) => {
    const r = await get(service.port)
    expect(f.fired('db-down')).toBe(2)
    return r
  })
  expect(res.status).toBe(503)
  expect(logs).toContain('db unavailable: ECONNREFUSED')
})

test('retries when one database connection fails mid-test', async () => {
  await faultline.with({ syscalls: [{ name: 'blip', syscall: 'connect', errno: 'ECONNRESET', match: { port: db.port }, when: { nth: 2 } }] }, async (f) => {
    expect((await get(service.port)).status).toBe(200)
    expect((await get(service.port)).status).toBe(200)
    expect(f.fired('blip')).toBe(1)
  })
})
