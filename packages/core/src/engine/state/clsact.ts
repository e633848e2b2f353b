/**
 * The clsact qdiscs that carry faultline's cls_bpf filters (kernels without tcx). A clsact may be
 * someone else's: faultline removes only one it created (a marker in the state directory,
 * clsact-<netns>-<ifindex>, holding the owner id of the last faultline process that prepared
 * it), and only once nothing at all is on it. ifindexes are per network namespace, hence <netns>.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import createDebug from 'debug'
import { errnoName, LibbpfError, tc } from '../../libbpf/index.js'
import { readStateFile, stateDir, stateEntries, writeStateFile } from './dir.js'
import { dumpClsactFilters } from './netlink.js'
import { FL_TC_PRIORITY } from './tags.js'
import { withTcLock } from './lock.js'
import { ownerAlive, ownerHex, ownerId, writeOwnerRecord } from './owner.js'

const debug = createDebug('faultline:state')
const { EEXIST, ENOENT, EINVAL } = os.constants.errno

const netns = (): number => fs.statSync('/proc/self/ns/net').ino
const markerName = (ifindex: number) => `clsact-${netns()}-${ifindex}`

function markerOwner(ifindex: number): number | undefined {
  const text = readStateFile(markerName(ifindex))
  return text === undefined ? undefined : parseInt(text, 16)
}

/** The ifindexes of this namespace with a marker, and the owner each names. */
export function markedClsacts(entries = stateEntries()): { ifindex: number; owner: number }[] {
  if (!entries.some((f) => f.startsWith('clsact-'))) return []
  const prefix = `clsact-${netns()}-`
  return entries.filter((f) => f.startsWith(prefix)).map((f) => {
    const ifindex = Number(f.slice(prefix.length))
    return { ifindex, owner: markerOwner(ifindex) ?? 0 }
  })
}

/**
 * Makes sure each interface has a clsact qdisc before filters attach (prepare step). A clsact
 * faultline created, or one a faultline process marked, is marked ours: until we release it no
 * one removes it from under our filters.
 */
export function prepareClsacts(devices: { name: string; ifindex: number }[]): void {
  withTcLock(() => {
    writeOwnerRecord()
    for (const dev of devices) {
      const r = tc.createClsact(dev.ifindex)
      if (r !== 0 && r !== -EEXIST) throw new LibbpfError(`create the clsact qdisc of ${dev.name}`, -r)
      if (r === 0 || markerOwner(dev.ifindex) !== undefined) {
        writeStateFile(markerName(dev.ifindex), ownerHex(ownerId()))
        if (r === 0) debug('created the clsact qdisc of %s', dev.name)
      }
    }
  })
}

/**
 * Removes the interface's clsact if faultline created it, `owner` holds its marker (or, when
 * sweeping, the marker's owner is dead), and nothing at all is on it. Returns whether it did.
 */
export function releaseClsact(dev: { name: string; ifindex: number }, mode: 'mine' | 'dead-owner'): boolean {
  return withTcLock(() => {
    const owner = markerOwner(dev.ifindex)
    if (owner === undefined) return false
    if (mode === 'mine' ? owner !== ownerId() : ownerAlive(owner)) return false
    try {
      // Read over rtnetlink, not with `tc`: this runs at every disarm on kernels without tcx, and
      // the window path runs no helper process.
      const onIt = (['ingress', 'egress'] as const).flatMap((d) => dumpClsactFilters(dev.ifindex, d))
      if (onIt.length) {
        // Kept: hand the marker to a live faultline owner with a filter on it (it removes the clsact
        // once done), or drop it when only others' filters are there (then the clsact is theirs).
        // A classifier instance is listed with handle 0 besides its filters.
        const heir = onIt
          .map((f) => ({ pref: f.info >>> 16, kind: f.kind, handle: f.handle }))
          .find((f) => f.handle !== 0 && f.pref === FL_TC_PRIORITY && f.kind === 'bpf' && ownerAlive(f.handle))
        if (heir) writeStateFile(markerName(dev.ifindex), ownerHex(heir.handle))
        else forgetClsact(dev.ifindex)
        debug('keeping the clsact qdisc of %s: filters are on it (marker %s)', dev.name, heir ? `to ${ownerHex(heir.handle)}` : 'dropped')
        return false
      }
    } catch (err) {
      debug('list the filters of %s: %s', dev.name, (err as Error).message)
      return false
    }
    const r = tc.destroyClsact(dev.ifindex)
    if (r < 0 && r !== -ENOENT && r !== -EINVAL) {
      debug('delete the clsact qdisc of %s: %s', dev.name, errnoName(-r))
      return false
    }
    forgetClsact(dev.ifindex)
    debug('deleted the clsact qdisc of %s', dev.name)
    return true
  })
}

export function forgetClsact(ifindex: number): void {
  fs.rmSync(path.join(stateDir(), markerName(ifindex)), { force: true })
}
