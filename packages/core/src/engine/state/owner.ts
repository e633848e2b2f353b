/**
 * Who owns what faultline leaves in the kernel, valid across pid namespaces. Pids are not:
 * two containers sharing one network namespace (`--network host`, a pod) have their own pid
 * numbers, and kill(pid, 0) answers for the viewer's namespace only. So each faultline process
 * picks a random 32-bit owner id and holds, for its whole life, an abstract AF_UNIX socket
 * named "faultline-owner-<id hex>": it lives in the network namespace, where tc state lives,
 * and vanishes the instant the process dies. Owner X is alive iff that name is held.
 *
 * The id tags every object that outlives a process: the cls_bpf filter handle, the htb root
 * qdisc's `default` (a 32-bit field the kernel keeps as it is; only its low 16 bits pick a class),
 * the IFB device name (flifb<id hex>). An id always has bits 31 and 15 set: above any pid (older
 * faultline versions tagged with the pid), and its low half never names one of our htb classes.
 */
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import createDebug from 'debug'
import { abstractHeld, bindAbstract } from './abstract-socket.js'
import { ensureStateDir, stateDir, stateEntries } from './dir.js'

const debug = createDebug('faultline:state')
const ID_BITS = 0x80008000
/** Tags below this are pids from faultline versions before owner ids. */
const FIRST_OWNER_ID = 0x80000000

let own: { id: number; fd: number } | undefined

export const ownerHex = (id: number): string => (id >>> 0).toString(16).padStart(8, '0')
const tokenName = (id: number) => `faultline-owner-${ownerHex(id)}`

/** This process's owner id, claimed on first use and held until exit. */
export function ownerId(): number {
  if (own) return own.id
  for (;;) {
    const id = (crypto.randomBytes(4).readUInt32LE(0) | ID_BITS) >>> 0
    const fd = bindAbstract(tokenName(id))
    if (fd === undefined) continue // taken by a live process of this network namespace: pick another
    own = { id, fd }
    debug('owner id %s (pid %d)', ownerHex(id), process.pid)
    return id
  }
}

/** Whether the owner of a tag still runs. Old pid tags (older versions) fall back to kill(pid, 0). */
export function ownerAlive(id: number): boolean {
  id >>>= 0
  if (own && id === own.id) return true
  if (id === 0) return false
  if (id < FIRST_OWNER_ID) return pidAlive(id)
  return abstractHeld(tokenName(id))
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
}

const RECORD = /^owner-([0-9a-f]{8})\.json$/
const recordPath = (id: number) => path.join(stateDir(), `owner-${ownerHex(id)}.json`)

/** Records that this process holds tc state; written before the first change, so a crash leaves it. */
export function writeOwnerRecord(): void {
  const id = ownerId()
  const file = path.join(ensureStateDir(), path.basename(recordPath(id)))
  if (fs.existsSync(file)) return
  // Whole or not at all: another process may read it (describeOwner) at any moment.
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, JSON.stringify({ owner: ownerHex(id), pid: process.pid } satisfies OwnerRecord))
  fs.renameSync(tmp, file)
}

export function removeOwnerRecord(id = own?.id): void {
  if (id !== undefined) fs.rmSync(recordPath(id), { force: true })
}

/** The owner ids with a record in the state directory (this mount namespace's view). */
export function recordedOwners(entries = stateEntries()): number[] {
  return entries.map((n) => RECORD.exec(n)?.[1]).filter((h): h is string => !!h).map((h) => parseInt(h, 16))
}

/** Who an owner is, for messages: "faultline process 1234" (its pid in its own namespace, from its record). */
export function describeOwner(id: number): string {
  try {
    const rec = JSON.parse(fs.readFileSync(recordPath(id), 'utf8')) as OwnerRecord
    return `faultline process ${rec.pid}`
  } catch {
    return id < FIRST_OWNER_ID ? `faultline process ${id}` : 'a faultline process of another mount namespace (its record is out of sight)'
  }
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
        devices = (JSON.parse(fs.readFileSync(path.join(stateDir(), file), 'utf8')) as { devices?: string[] }).devices ?? []
      } catch {
        // half-written
      }
    }
    out.push({ file, pid: Number(m[1] ?? m[2]), devices })
  }
  return out
}
