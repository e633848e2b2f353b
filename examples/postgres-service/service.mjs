// The code under test: a small HTTP service over PostgreSQL. It reads its config file at start,
// answers GET /users from the database, retries a failed database connection once, and answers
// 503 with a clear log line when the database stays unreachable. Nothing here knows faultline.
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
  const query = async (sql) => {
    for (let attempt = 1; ; attempt++) {
      // A connection per request keeps the example's fault points obvious (connect per request).
      const client = new pg.Client({ host: '127.0.0.1', port: config.dbPort, user: 'postgres', database: 'postgres' })
      try {
        await client.connect()
        return (await client.query(sql)).rows
      } catch (err) {
        log(`db error (attempt ${attempt}): ${err.code ?? err.message}`)
        if (attempt >= 2) throw err
      } finally {
        client.end().catch(() => {})
      }
    }
  }
  const server = http.createServer(async (req, res) => {
    try {
      const rows = await query("select 'ada' as name union all select 'grace'")
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(rows))
    } catch (err) {
      log(`db unavailable: ${err.code ?? err.message}`)
      res.writeHead(503, { connection: 'close' }).end(JSON.stringify({ error: 'database unavailable' }))
    }
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) }
}

export function get(port, path = '/users') {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }))
    }).on('error', reject)
  })
}
