// Components in other languages under kernel faults: a C client whose connections are refused
// (any kernel) and a Python script whose file open fails (kernels that can fail openat).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { test, expect, beforeAll, afterAll } from '@faultline/vitest-plugin/test'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-poly-'))
const client = path.join(dir, 'client')
const data = path.join(dir, 'data.txt')
let server
let port
beforeAll(async () => {
  execFileSync('cc', ['-O2', '-o', client, new URL('client.c', import.meta.url).pathname])
  fs.writeFileSync(data, 'a\nb\nc\n')
  server = net.createServer((s) => s.end()).listen(0, '127.0.0.1')
  await new Promise((r) => server.on('listening', r))
  port = server.address().port
})
afterAll(() => {
  server.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('the C client connects, and gives up cleanly when every connection is refused', async ({ faults }) => {
  expect(spawnSync(client, [String(port)], { encoding: 'utf8' }).stdout).toBe('connected after 1 attempt(s)\n')
  const r = await faults.with({ syscalls: [{ name: 'refused', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } }] }, (f) => {
    const out = spawnSync(client, [String(port)], { encoding: 'utf8' })
    expect(f.fired('refused')).toBe(3)
    return out
  })
  expect(r.status).toBe(3)
  expect(r.stderr).toContain('attempt 3: Connection refused\ngiving up: server unreachable')
})

test('the C client recovers when only its first connection is refused', async ({ faults }) => {
  const r = await faults.with({ syscalls: [{ name: 'once', syscall: 'connect', errno: 'ECONNREFUSED', match: { port }, when: { times: 1 } }] }, () =>
    spawnSync(client, [String(port)], { encoding: 'utf8' }),
  )
  expect(r.stdout).toBe('connected after 2 attempt(s)\n')
})

test('the Python script reports an unreadable data file', async ({ faults }) => {
  const r = await faults.with({ syscalls: [{ name: 'eio', syscall: 'openat', errno: 'EIO', match: { path: data } }] }, () =>
    spawnSync('python3', [new URL('report.py', import.meta.url).pathname, data], { encoding: 'utf8' }),
  )
  expect(r.status).toBe(4)
  expect(r.stderr).toBe(`cannot read ${data}: Input/output error\n`)
})
