/**
 * HTTP downloads over lo for the connection-reset tests: a targeted child (fixtures/download.cjs)
 * and the same download from this process (a bystander), each reporting what its socket saw.
 */
import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { FIXTURES } from './net.js'

/** The largest segment lo carries (TSO/GRO: one skb of up to 64 KB): the most that may pass beyond after_bytes. */
export const SEGMENT = 65536
/** What a reset connection's next call fails with. */
export const RESET_CODES = ['ECONNABORTED', 'ECONNRESET']

export interface Seen {
  bytes: number
  code: string | null
  connectedAt: number
  lastDataAt: number
  endedAt: number
}

/** Starts download.cjs --wait; go() makes it connect (inside the window) and resolves what it saw. */
export async function waitingDownload(port: number, urlPath: string): Promise<{ go(): Promise<Seen> }> {
  const child = spawn(process.execPath, [path.join(FIXTURES, 'download.cjs'), String(port), urlPath, '--wait'], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (c) => reject(new Error(`download.cjs exited ${c} before it was ready: ${out}`)))
    const check = () => (out.includes('ready') ? resolve() : child.stdout!.once('data', check))
    check()
  })
  const done = new Promise<Seen>((resolve, reject) => {
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as Seen)
      } catch {
        reject(new Error(`download.cjs printed ${JSON.stringify(out)}`))
      }
    })
  })
  return {
    go() {
      child.stdin!.end('go\n')
      return done
    },
  }
}

/** The same download from this process (not a target): a bystander. */
export function downloadHere(port: number, urlPath: string, stopAfterMs?: number): Promise<Seen> {
  return new Promise((resolve) => {
    const r: Seen = { bytes: 0, code: null, connectedAt: 0, lastDataAt: 0, endedAt: 0 }
    const s = net.connect(port, '127.0.0.1', () => {
      r.connectedAt = Date.now()
      s.write(`GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
      if (stopAfterMs) setTimeout(() => s.destroy(), stopAfterMs)
    })
    s.on('data', (d) => {
      r.bytes += d.length
      r.lastDataAt = Date.now()
    })
    s.on('error', (e: NodeJS.ErrnoException) => (r.code = e.code ?? e.message))
    s.on('close', () => resolve({ ...r, endedAt: Date.now() }))
  })
}
