/**
 * Temporary directories a test file makes, removed after the file's last test whether its tests
 * passed or failed: a finished run leaves nothing under /tmp.
 */
import { afterAll } from 'vitest'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const made: string[] = []
// Registered on the importing file's root suite (module code runs while vitest collects it).
afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A new directory under the temporary directory, named `<prefix>XXXXXX`, removed after the file's tests. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  made.push(dir)
  return dir
}
