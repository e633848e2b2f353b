// A process that arms and disarms on request, so the bench's own children are bystanders:
// outside the armer's target tree, as another worker or a database would be.
// stdin lines: `arm <config json>` -> `armed <mechanism,...>`; `disarm` -> `disarmed`; EOF exits.
import readline from 'node:readline'
import { arm, validateConfig } from '../../../packages/core/dist/index.js'

let session
for await (const line of readline.createInterface({ input: process.stdin })) {
  try {
    if (line.startsWith('arm ')) {
      session = arm(validateConfig(JSON.parse(line.slice(4))))
      const mechs = Object.values(session.handle.stats()).map((r) => r.mechanism)
      process.stdout.write(`armed ${mechs.join(',')}\n`)
    } else if (line === 'disarm') {
      session?.disarm()
      session = undefined
      process.stdout.write('disarmed\n')
    }
  } catch (err) {
    process.stdout.write(`error ${String(err?.message ?? err).replace(/\n/g, ' ')}\n`)
  }
}
process.exit(0)
