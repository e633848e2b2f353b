/**
 * Blocks this thread for `ms`. Arming and disarming are synchronous (they run in `afterEach`
 * hooks and in exit handlers), so their short waits cannot yield to the event loop.
 */
const cell = new Int32Array(new SharedArrayBuffer(4))

export function sleepSync(ms: number): void {
  Atomics.wait(cell, 0, 0, ms)
}
