/**
 * Who owns what faultline leaves in the kernel, valid across pid namespaces. Pids are not:
 * two containers sharing one network namespace (`--network host`, a pod) have their own pid
 * numbers, and kill(pid, 0) answers for the viewer's namespace only. So each faultline process
 * picks a random 32-bit owner id and holds, for its whole life, an abstract AF_UNIX socket
 * named "faultline-owner-<id hex>": it lives in the network namespace, where tc state lives,
 * and vanishes the instant the process dies. Owner X is alive iff that name is held by a
 * privileged process (holder.ts): any user can bind a dead owner's name, and such a squatter must
 * not keep the dead owner's objects from the sweep.
 *
 * The id tags every object that outlives a process: the cls_bpf filter handle, the htb root
 * qdisc's `default` (a 32-bit field the kernel keeps as it is; only its low 16 bits pick a class),
 * the IFB device name (flifb<id hex>). An id always has bits 31 and 15 set: above any pid (older
 * faultline versions tagged with the pid), and its low half never names one of our htb classes.
 */
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import net from 'node:net'
import createDebug from 'debug'
import { BACKLOG, bindLegacy, closeAbstract, listenAbstract } from './abstract-socket.js'
import { describeHolder, judgeHolder } from './holder.js'
import { ensureStateDir, readStateFile, stateDir, stateEntries, writeStateFile } from './dir.js'

const debug = createDebug('faultline:state')
const ID_BITS = 0x80008000
/** Tags below this are pids from faultline versions before owner ids. */
const FIRST_OWNER_ID = 0x80000000

let own: { id: number; server: net.Server } | undefined

export const ownerHex = (id: number): string => (id >>> 0).toString(16).padStart(8, '0')
const tokenName = (id: number) => `faultline-owner-${ownerHex(id)}`

/** This process's owner id, claimed on first use and held until exit. */
export function ownerId(): number {
  if (own) return own.id
  for (;;) {
    const id = (crypto.randomBytes(4).readUInt32LE(0) | ID_BITS) >>> 0
    const fd = listenAbstract(tokenName(id))
    if (fd === undefined) continue // taken by a live process of this network namespace: pick another
    // the datagram name too, which older faultline versions beside this one check
    const legacy = bindLegacy(tokenName(id))
    if (legacy === undefined) {
      closeAbstract(fd)
      continue
    }
    own = { id, server: serveToken(fd) }
    debug('owner id %s (pid %d)', ownerHex(id), process.pid)
    return id
  }
}

/**
 * Accepts and drops the connections of other processes checking this token (holder.ts), on the
 * event loop, so they never fill its queue. unref: the token never keeps the process alive.
 */
function serveToken(fd: number): net.Server {
  const server = net.createServer((s) => s.destroy())
  server.on('error', (err) => debug('owner token: %s', err.message))
  server.listen({ fd, backlog: BACKLOG })
  server.unref()
  return server
}

/**
 * Whether the owner of a tag still runs. Old pid tags (older versions) fall back to kill(pid, 0).
 * A token whose holder is not a privileged process, or cannot be identified, counts as dead.
 */
export function ownerAlive(id: number): boolean {
  id >>>= 0
  if (own && id === own.id) return true
  if (id === 0) return false
  if (id < FIRST_OWNER_ID) return pidAlive(id)
  const v = judgeHolder(tokenName(id))
  if (v.held && !v.trusted) debug('owner %s: its token is held by %s, %s: counted as dead', ownerHex(id), describeHolder(v), v.why)
  return v.held && v.trusted
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// --- owner records: hints for the cheap check at arming, and for messages (the pid, in its own namespace)

export interface OwnerRecord {
  owner: string
  /** The owner's pid in its own pid namespace: for messages only, never for liveness. */
  pid: number
  /** Its network namespace (the inode of /proc/self/ns/net): its token, so its liveness, is seen only there. */
  netns?: number
}

/** This process's network namespace, as records name it. */
const netnsIno = (): number => fs.statSync('/proc/self/ns/net').ino

const RECORD = /^owner-([0-9a-f]{8})\.json$/
const recordName = (id: number) => `owner-${ownerHex(id)}.json`
const recordPath = (id: number) => path.join(stateDir(), recordName(id))

/** Records that this process holds tc state; written before the first change, so a crash leaves it. */
export function writeOwnerRecord(): void {
  const id = ownerId()
  if (fs.existsSync(path.join(ensureStateDir(), recordName(id)))) return
  writeStateFile(recordName(id), JSON.stringify({ owner: ownerHex(id), pid: process.pid, netns: netnsIno() } satisfies OwnerRecord))
}

export function removeOwnerRecord(id = own?.id): void {
  if (id !== undefined) fs.rmSync(recordPath(id), { force: true })
}

/** The owner ids with a record in the state directory (this mount namespace's view). */
/**
 * The owners with a record of this network namespace (or of a version that did not say): the state
 * directory is shared by every namespace, but an owner's token is seen only in its own, so from here
 * another namespace's live owner would look dead and its record would be swept.
 */
export function recordedOwners(entries = stateEntries()): number[] {
  const here = netnsIno()
  return entries
    .map((n) => RECORD.exec(n)?.[1])
    .filter((h): h is string => !!h)
    .map((h) => parseInt(h, 16))
    .filter((id) => {
      const netns = readRecord(id)?.netns
      return netns === undefined || netns === here
    })
}

function readRecord(id: number): OwnerRecord | undefined {
  try {
    return JSON.parse(readStateFile(recordName(id)) ?? '') as OwnerRecord
  } catch {
    return undefined
  }
}

/** Who an owner is, for messages: "faultline process 1234" (its pid in its own namespace, from its record). */
export function describeOwner(id: number): string {
  const rec = readRecord(id)
  if (rec) return `faultline process ${rec.pid}`
  return id < FIRST_OWNER_ID ? `faultline process ${id}` : 'a faultline process of another mount namespace (its record is out of sight)'
}

/** Files of faultline versions before owner ids: owner-<pid>, shaping-<pid>.json. */
export function legacyRecords(entries = stateEntries()): { file: string; pid: number; devices: string[] }[] {
  const out: { file: string; pid: number; devices: string[] }[] = []
  for (const file of entries) {
    const m = /^(?:owner-(\d+)|shaping-(\d+)\.json)$/.exec(file)
    if (!m) continue
    let devices: string[] = []
    if (m[2]) {
      try {
        devices = (JSON.parse(readStateFile(file) ?? '') as { devices?: string[] }).devices ?? []
      } catch {
        // half-written
      }
    }
    out.push({ file, pid: Number(m[1] ?? m[2]), devices })
  }
  return out
}
