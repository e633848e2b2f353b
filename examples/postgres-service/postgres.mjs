// Starts a throw-away PostgreSQL (Debian's `postgresql` package) on a loopback port, as the
// postgres user (it refuses to run as root), and stops it. Installs the package if missing.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

function pgBin() {
  const base = '/usr/lib/postgresql'
  if (!fs.existsSync(base)) {
    execFileSync('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)'], { stdio: 'inherit' })
  }
  const version = fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))[0]
  return path.join(base, version, 'bin')
}

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await new Promise((r) => srv.on('listening', r))
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

export async function startPostgres() {
  const bin = pgBin()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-pg-'))
  fs.chmodSync(dir, 0o777)
  const data = path.join(dir, 'data')
  const as = (cmd, args) => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args], { encoding: 'utf8', cwd: dir })
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`)
  }
  const port = await freePort()
  as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  as('pg_ctl', ['-D', data, '-w', '-l', path.join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start'])
  return {
    port,
    stop() {
      spawnSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'], { cwd: dir })
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
