// The bench's side of armer.mjs: one long-lived armer child, driven line by line.
import { spawn } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))

export function startArmer() {
  const child = spawn(process.execPath, [path.join(here, 'armer.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const ask = async (cmd) => {
    child.stdin.write(`${cmd}\n`)
    const { value, done } = await lines.next()
    if (done) throw new Error('armer exited')
    if (value.startsWith('error ')) throw new Error(`armer: ${value.slice(6)}`)
    return value
  }
  return {
    /** Arms `config` in the armer; resolves to the mechanisms serving its rules. */
    arm: async (config) => (await ask(`arm ${JSON.stringify(config)}`)).slice('armed '.length).split(','),
    disarm: () => ask('disarm'),
    /** A measuring op of armer.mjs (OPS there): resolves to its result. */
    op: async (op, args = {}) => {
      const r = JSON.parse(await ask(JSON.stringify({ op, ...args })))
      if (r.error) throw new Error(`armer ${op}: ${r.error}`)
      return r.ok
    },
    close: () => { child.stdin.end(); return new Promise((r) => child.once('exit', r)) },
  }
}
