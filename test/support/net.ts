/** Small real-network helpers for tests: a loopback TCP server and connect attempts. */
import net from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const FIXTURES = fileURLToPath(new URL('../fixtures', import.meta.url))

export interface Server {
  port: number
  close(): Promise<void>
}

/** A TCP server that accepts and closes every connection. */
export async function startServer(host = '127.0.0.1'): Promise<Server> {
  const srv = net.createServer((s) => s.on('error', () => {}).end())
  await new Promise<void>((resolve) => srv.listen(0, host, resolve))
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => srv.close(() => resolve())),
  }
}

/** One connect attempt from this process: 'ok' or the error code (e.g. 'ECONNREFUSED'). */
export function tryConnect(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, host)
    c.on('connect', () => {
      c.destroy()
      resolve('ok')
    })
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
  })
}

export async function connectMany(n: number, port: number, host = '127.0.0.1'): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(await tryConnect(port, host))
  return out
}

/** Runs a command to completion and returns its stdout's last line parsed as JSON. */
export function runJson<T = unknown>(cmd: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.on('error', reject)
    p.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? ''
      try {
        resolve(JSON.parse(last) as T)
      } catch {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code} with output ${JSON.stringify(out)}`))
      }
    })
  })
}

/** Spawns connect.cjs --wait: returns once it is ready; go() makes it connect and resolves its results. */
export async function spawnWaitingConnector(port: number, count = 1): Promise<{ child: ChildProcess; go(): Promise<string[]> }> {
  const child = spawn(process.execPath, [path.join(FIXTURES, 'connect.cjs'), String(port), String(count), '127.0.0.1', '--wait'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  await new Promise<void>((resolve) => {
    const check = () => (out.includes('ready') ? resolve() : child.stdout!.once('data', check))
    check()
  })
  return {
    child,
    go: () =>
      new Promise((resolve) => {
        child.on('close', () => resolve(JSON.parse(out.trim().split('\n').pop()!) as string[]))
        child.stdin!.write('go\n')
      }),
  }
}
