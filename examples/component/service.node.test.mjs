// node:test: the service with one dependency broken at a time, in the kernel.
// Run: node --test examples/component/service.node.test.mjs
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { withFaults } from '@faultline/core/node-test'
import { startWorld } from './harness.mjs'
import { startService, get } from './service.mjs'

// The config-file and delay tests need kernel features some machines lack (failing openat:
// fmod_ret, kprobe override or the BPF LSM; delay: netem): there they are skipped with the reason,
// and the callback is not called, so each test's assertions are inside its callback.
const options = { onUnsupported: 'skip' }
// A whole armed window is bounded by the test's timeout: withFaults disarms when it fires.
const timeout = 60_000
let world
before(async () => (world = await startWorld()), { timeout: 120_000 })
after(() => world?.stop())

test('answers a quote from both downstreams and the database', { timeout }, async () => {
  const res = await get(world.service.port, '/quote/abc')
  assert.equal(res.status, 200)
  assert.equal(res.body.price, 1250)
  assert.equal(res.body.inStock, true)
})

test('inventory refuses connections: 502 after one retry, pricing never asked', { timeout }, async (t) => {
  const pricingBefore = await world.seen('pricing')
  const rule = { name: 'inventory-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: world.inventory.port } }
  await withFaults(t, { syscalls: [rule] }, async (faults) => {
    assert.deepEqual(await get(world.service.port, '/quote/abc'), { status: 502, body: { error: 'inventory unavailable: ECONNREFUSED' } })
    assert.equal(faults.fired('inventory-down'), 2) // the first attempt and the retry
    assert.ok(world.logs.includes('inventory error (attempt 2): ECONNREFUSED'), world.logs.join('\n'))
    assert.equal(await world.seen('pricing'), pricingBefore)
  }, options)
})

test('pricing refuses connections: 502 after one retry', { timeout }, async (t) => {
  const rule = { name: 'pricing-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: world.pricing.port } }
  await withFaults(t, { syscalls: [rule] }, async (faults) => {
    assert.deepEqual(await get(world.service.port, '/quote/abc'), { status: 502, body: { error: 'pricing unavailable: ECONNREFUSED' } })
    assert.equal(faults.fired('pricing-down'), 2)
    assert.ok(world.logs.includes('pricing error (attempt 1): ECONNREFUSED'), world.logs.join('\n'))
  }, options)
})

test('pricing 2 s slow against the 500 ms timeout: 504, no retry', { timeout }, async (t) => {
  const rule = { name: 'slow-pricing', action: 'delay', delay: '2s', protocol: 'tcp', port: world.pricing.port }
  await withFaults(t, { network: [rule] }, async (faults) => {
    assert.deepEqual(await get(world.service.port, '/quote/abc'), { status: 504, body: { error: 'pricing timed out after 500 ms' } })
    assert.ok(faults.fired('slow-pricing') >= 1) // packets held back by the delay
    assert.ok(world.logs.includes('pricing timed out after 500 ms'), world.logs.join('\n'))
  }, options)
})

test('the database refuses connections: 503 after one retry', { timeout }, async (t) => {
  const rule = { name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port: world.db.port } }
  await withFaults(t, { syscalls: [rule] }, async (faults) => {
    assert.deepEqual(await get(world.service.port, '/quote/abc'), { status: 503, body: { error: 'db unavailable: ECONNREFUSED' } })
    assert.equal(faults.fired('db-down'), 2)
    assert.ok(world.logs.includes('db error (attempt 2): ECONNREFUSED'), world.logs.join('\n'))
  }, options)
})

test('an unreadable config file stops the service from starting, with a clear error', { timeout }, async (t) => {
  const rule = { name: 'no-config', syscall: 'openat', errno: 'EACCES', match: { path: world.configPath } }
  await withFaults(t, { syscalls: [rule] }, async (faults) => {
    await assert.rejects(startService({ configPath: world.configPath }), { message: `cannot read config ${world.configPath}: EACCES` })
    assert.equal(faults.fired('no-config'), 1)
  }, options)
})
