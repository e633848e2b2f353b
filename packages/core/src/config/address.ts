/** IP addresses and CIDRs -> network-order bytes + prefix length. Host bits past the prefix must be zero. */
import net from 'node:net'
import type { NormalizedAddress } from './rule-parts.js'

function v4Bytes(ip: string): Uint8Array {
  return Uint8Array.from(ip.split('.').map(Number))
}

function v6Bytes(ip: string): Uint8Array {
  // Expand '::' and a trailing dotted quad into 8 groups of 16 bits.
  let text = ip
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const b = v4Bytes(dotted[1]!)
    text = text.slice(0, -dotted[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`
  }
  const [head, tail] = text.split('::') as [string, string | undefined]
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    const n = parseInt(g, 16)
    out[i * 2] = n >> 8
    out[i * 2 + 1] = n & 0xff
  })
  return out
}

/** A NormalizedAddress, or an error message. */
export function parseAddress(text: string): NormalizedAddress | string {
  const [ip = '', prefix, ...extra] = text.trim().split('/')
  const version = net.isIP(ip)
  if (!version || extra.length) return `${JSON.stringify(text)} is not an IP address or CIDR (e.g. "127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8")`
  const max = version === 4 ? 32 : 128
  let prefixLen = max
  if (prefix !== undefined) {
    if (!/^\d+$/.test(prefix) || Number(prefix) > max) return `${JSON.stringify(text)}: the prefix length must be 0..${max}`
    prefixLen = Number(prefix)
  }
  const bytes = version === 4 ? v4Bytes(ip) : v6Bytes(ip)
  for (let bit = prefixLen; bit < max; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) {
      return `${JSON.stringify(text)} has host bits set past /${prefixLen}; did you mean ${maskedText(bytes, prefixLen, version)}/${prefixLen}?`
    }
  }
  return { family: version === 4 ? 'inet' : 'inet6', bytes, prefixLen, text }
}

function maskedText(bytes: Uint8Array, prefixLen: number, version: number): string {
  const m = Uint8Array.from(bytes, (b, i) => b & (0xff << (8 - Math.max(0, Math.min(8, prefixLen - i * 8)))) & 0xff)
  if (version === 4) return [...m].join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((m[i]! << 8) | m[i + 1]!).toString(16))
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')
}
