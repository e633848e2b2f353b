// The code under test: a small HTTP service. GET /quote/:sku asks two HTTP downstreams (inventory
// and pricing) and records the quote in PostgreSQL. Its failure handling is what the tests check:
//   - a downstream that refuses the connection is retried once, then → 502;
//   - a downstream slower than `timeoutMs` (500 ms) → 504, no retry (the call may have happened);
//   - a database that refuses connections is retried once, then → 503;
//   - a config file it cannot read → start-up fails with a clear error.
// Each failure leaves one log line. Nothing here knows faultline.
import fs from 'node:fs/promises'
import http from 'node:http'
import pg from 'pg'

export async function startService({ configPath, log = () => {} }) {
  let config
  try {
    config = JSON.parse(await fs.readFile(configPath, 'utf8'))
  } catch (err) {
    throw new Error(`cannot read config ${configPath}: ${err.code ?? err.message}`)
  }
  const timeoutMs = config.timeoutMs ?? 500

  const downstream = async (name, path) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await getJson(`${config[name]}${path}`, timeoutMs)
      } catch (err) {
        if (err.code === 'ETIMEDOUT') throw Object.assign(new Error(`${name} timed out after ${timeoutMs} ms`), { status: 504 })
        log(`${name} error (attempt ${attempt}): ${err.code ?? err.message}`)
        if (attempt >= 2) throw Object.assign(new Error(`${name} unavailable: ${err.code ?? err.message}`), { status: 502 })
      }
    }
  }

  const record = async (quote) => {
    for (let attempt = 1; ; attempt++) {
      // One connection per request keeps the example's fault points obvious.
      const client = new pg.Client({ host: '127.0.0.1', port: config.dbPort, user: 'postgres', database: 'postgres' })
      try {
        await client.connect()
        return (await client.query('select $1::text as sku, $2::int as price, now() as at', [quote.sku, quote.price])).rows[0]
      } catch (err) {
        log(`db error (attempt ${attempt}): ${err.code ?? err.message}`)
        if (attempt >= 2) throw Object.assign(new Error(`db unavailable: ${err.code ?? err.message}`), { status: 503 })
      } finally {
        client.end().catch(() => {})
      }
    }
  }

  const server = http.createServer(async (req, res) => {
    const sku = /^\/quote\/([\w-]+)$/.exec(req.url ?? '')?.[1]
    if (!sku) return res.writeHead(404, { connection: 'close' }).end('{}')
    try {
      const stock = await downstream('inventory', `/stock/${sku}`)
      const price = await downstream('pricing', `/price/${sku}`)
      const row = await record({ sku, price: price.cents })
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' })
      res.end(JSON.stringify({ sku, inStock: stock.inStock, price: price.cents, at: row.at }))
    } catch (err) {
      log(err.message)
      res.writeHead(err.status ?? 500, { 'content-type': 'application/json', connection: 'close' })
      res.end(JSON.stringify({ error: err.message }))
    }
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) }
}

/** GET a JSON body with a deadline for the whole exchange (a fresh connection each time). */
export function getJson(url, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        clearTimeout(timer)
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`))
        try {
          resolve(JSON.parse(body))
        } catch (err) {
          reject(err)
        }
      })
    })
    const timer = timeoutMs
      ? setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs)
      : undefined
    req.on('error', (err) => (clearTimeout(timer), reject(err)))
  })
}

/** What a client of the service sees: status and parsed body. */
export function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }))
    }).on('error', reject)
  })
}
