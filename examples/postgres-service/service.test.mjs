// Vitest: the service under database faults. Run: npx vitest run --root examples/postgres-service
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test, expect, beforeAll, afterAll } from '@faultline/vitest-plugin/test'
import { startPostgres } from './postgres.mjs'
import { startService, get } from './service.mjs'

let db, service, configPath
const logs = []
beforeAll(async () => {
  db = await startPostgres()
  configPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fl-svc-')), 'config.json')
  fs.writeFileSync(configPath, JSON.stringify({ dbPort: db.port }))
  service = await startService({ configPath, log: (l) => logs.push(l) })
}, 60_000)
afterAll(async () => {
  await service?.close()
  db?.stop()
  if (configPath) fs.rmSync(path.dirname(configPath), { recursive: true, force: true })
})

test('answers from the database', async () => {
  expect(await get(service.port)).toMatchObject({ status: 200, body: [{ name: 'ada' }, { name: 'grace' }] })
})

test('503 and a clear log line when the database refuses connections', async ({ faults }) => {
  const res = await faults.with(
    { syscalls: [{ name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: db.port } }] },
    async (f) => {
      const r = await get(service.port)
      expect(f.fired('db-down')).toBe(2) // the first attempt and the retry
      return r
    },
  )
  expect(res.status).toBe(503)
  expect(logs).toContain('db unavailable: ECONNREFUSED')
})

test('retries when one database connection fails mid-test', async ({ faults }) => {
  await faults.with(
    { syscalls: [{ name: 'blip', syscall: 'connect', errno: 'ECONNRESET', match: { port: db.port }, when: { nth: 2 } }] },
    async (f) => {
      expect((await get(service.port)).status).toBe(200) // connection 1
      expect((await get(service.port)).status).toBe(200) // connection 2 fails, the retry (3) works
      expect(f.fired('blip')).toBe(1)
    },
  )
  expect(logs).toContain('db error (attempt 1): ECONNRESET')
})

test('a failing read of its config file stops the service from starting with a clear error', async ({ faults }) => {
  await faults.with({ syscalls: [{ name: 'no-config', syscall: 'openat', errno: 'EACCES', match: { path: configPath } }] }, async (f) => {
    await expect(startService({ configPath })).rejects.toThrow(`cannot read config ${configPath}: EACCES`)
    expect(f.fired('no-config')).toBe(1)
  })
})
