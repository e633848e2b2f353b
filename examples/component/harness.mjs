// What both test files share: a real PostgreSQL (the postgres-service example's helper), two
// "say yes" stand-ins for the HTTP downstreams (mockttp servers answering every request with a
// fixed JSON body), the service's config file pointing at them, and the service itself with its
// log lines collected. The tests then break one of these dependencies at a time, in the kernel.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { getLocal } from 'mockttp'
import { startPostgres } from '../postgres-service/postgres.mjs'
import { startService } from './service.mjs'

export async function startWorld() {
  const db = await startPostgres()
  const inventory = getLocal()
  const pricing = getLocal()
  await inventory.start()
  await pricing.start()
  // "Say yes": whatever SKU is asked for, it is in stock and costs 1250 cents.
  const stockEndpoint = await inventory.forGet(/^\/stock\//).thenJson(200, { inStock: true })
  const priceEndpoint = await pricing.forGet(/^\/price\//).thenJson(200, { cents: 1250 })

  const configPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fl-component-')), 'config.json')
  fs.writeFileSync(configPath, JSON.stringify({ inventory: `http://127.0.0.1:${inventory.port}`, pricing: `http://127.0.0.1:${pricing.port}`, dbPort: db.port, timeoutMs: 500 }))
  const logs = []
  const service = await startService({ configPath, log: (line) => logs.push(line) })

  return {
    service, db, inventory, pricing, configPath, logs,
    /** How many requests a stand-in has received so far. */
    seen: async (endpoint) => (await (endpoint === 'inventory' ? stockEndpoint : priceEndpoint).getSeenRequests()).length,
    async stop() {
      await service.close()
      await inventory.stop()
      await pricing.stop()
      db.stop()
      fs.rmSync(path.dirname(configPath), { recursive: true, force: true })
    },
  }
}
