/** The faultline command as a user runs it: the built bin, and config files to hand it. */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from './temp-dir.js'

export const BIN = fileURLToPath(new URL('../../packages/core/dist/cli/main.js', import.meta.url))

export const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })

/** `text` in a new file `name`, in a directory of its own under the temporary directory. */
export function tmpFile(name: string, text: string): string {
  const dir = tempDir('fl-cli-')
  fs.writeFileSync(path.join(dir, name), text)
  return path.join(dir, name)
}
