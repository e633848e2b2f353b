// Vitest: the service with one dependency broken at a time, in the kernel.
// Run: npx vitest run --root examples/component
import { test, expect, beforeAll, afterAll } from '@faultline/vitest-plugin/test'
import { startWorld } from './harness.mjs'
import { startService, get } from './service.mjs'

let world
beforeAll(async () => (world = await startWorld()), 120_000)
afterAll(() => world?.stop())

test('answers a quote from both downstreams and the database', async () => {
  expect(await get(world.service.port, '/quote/abc')).toMatchObject({ status: 200, body: { sku: 'abc', inStock: true, price: 1250 } })
})

test('inventory refuses connections: 502 after one retry, pricing never asked', async ({ faults }) => {
  const pricingBefore = await world.seen('pricing')
  const rule = { name: 'inventory-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: world.inventory.port } }
  const res = await faults.with({ syscalls: [rule] }, async (f) => {
    const r = await get(world.service.port, '/quote/abc')
    expect(f.fired('inventory-down')).toBe(2) // the first attempt and the retry
    return r
  })
  expect(res).toEqual({ status: 502, body: { error: 'inventory unavailable: ECONNREFUSED' } })
  expect(world.logs).toContain('inventory error (attempt 2): ECONNREFUSED')
  expect(await world.seen('pricing')).toBe(pricingBefore)
})

test('pricing refuses connections: 502 after one retry', async ({ faults }) => {
  const rule = { name: 'pricing-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: world.pricing.port } }
  await faults.with({ syscalls: [rule] }, async (f) => {
    expect(await get(world.service.port, '/quote/abc')).toEqual({ status: 502, body: { error: 'pricing unavailable: ECONNREFUSED' } })
    expect(f.fired('pricing-down')).toBe(2)
  })
  expect(world.logs).toContain('pricing error (attempt 1): ECONNREFUSED')
})

test('pricing 2 s slow against the 500 ms timeout: 504, no retry', async ({ faults }) => {
  const rule = { name: 'slow-pricing', action: 'delay', delay: '2s', protocol: 'tcp', port: world.pricing.port }
  await faults.with({ network: [rule] }, async (f) => {
    expect(await get(world.service.port, '/quote/abc')).toEqual({ status: 504, body: { error: 'pricing timed out after 500 ms' } })
    expect(f.fired('slow-pricing')).toBeGreaterThanOrEqual(1) // packets held back by the delay
  })
  expect(world.logs).toContain('pricing timed out after 500 ms')
})

test('the database refuses connections: 503 after one retry', async ({ faults }) => {
  const rule = { name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: world.db.port } }
  await faults.with({ syscalls: [rule] }, async (f) => {
    expect(await get(world.service.port, '/quote/abc')).toEqual({ status: 503, body: { error: 'db unavailable: ECONNREFUSED' } })
    expect(f.fired('db-down')).toBe(2)
  })
  expect(world.logs).toContain('db error (attempt 2): ECONNREFUSED')
})

test('an unreadable config file stops the service from starting, with a clear error', async ({ faults }) => {
  const rule = { name: 'no-config', syscall: 'openat', errno: 'EACCES', match: { path: world.configPath } }
  await faults.with({ syscalls: [rule] }, async (f) => {
    await expect(startService({ configPath: world.configPath })).rejects.toThrow(`cannot read config ${world.configPath}: EACCES`)
    expect(f.fired('no-config')).toBe(1)
  })
})
