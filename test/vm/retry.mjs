// The harness's network steps (apt's mirrors, the npm registry) are tried three times: one
// mirror hiccup in CI must not cost a kernel's whole column. Each failure is said on stderr.

/** Blocks this thread for `ms` (the harness's setup steps are synchronous). */
const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

const firstLine = (err) => String(err?.message ?? err).split('\n')[0]

/** Runs `fn` (synchronous) until it returns, at most 1 + waits.length times; `what` names it. */
export function retrying(what, fn, waits = [5, 30]) {
  for (let i = 0; ; i++) {
    try {
      return fn()
    } catch (err) {
      if (i >= waits.length) throw new Error(`vm: ${what} failed ${i + 1} times; the last: ${firstLine(err)}`)
      process.stderr.write(`vm: ${what} failed (${firstLine(err)}); trying again in ${waits[i]} s\n`)
      sleepSync(waits[i] * 1000)
    }
  }
}
