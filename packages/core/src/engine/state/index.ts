/**
 * What faultline leaves on the machine beyond its process's lifetime, in one place: the state
 * directory, the tc lock, owner ids and records, and the sweeps of what dead owners left.
 */
export { stateDir } from './dir.js'
export { withTcLock, acquireTcLock, underTcLock } from './lock.js'
export { ownerId, ownerHex, ownerAlive, describeOwner, writeOwnerRecord, removeOwnerRecord } from './owner.js'
export { FL_TC_PRIORITY, SHAPING_HANDLE, SHAPING_MAJOR, ifbName, isFaultlineIfb, isShapingRoot, htbOwner } from './tags.js'
export { prepareClsacts, releaseClsact } from './clsact.js'
export { batch, quietly, rootQdisc, netDevices, ifindexOf, type Qdisc } from './iproute-commands.js'
export { sweep, sweepAtArming, leftoversLikely, type SweepReport, type Removed } from './sweep.js'
export { cleanupLeftovers, type CleanupReport } from './cleanup.js'
