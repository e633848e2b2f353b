/**
 * Loaded before every test file (vitest.config.ts setupFiles). A test that times out while armed
 * never reaches its disarm; without this backstop every later test of its file would be refused
 * as busy, hiding what really failed. The adapters do the same for users.
 */
import { afterEach } from 'vitest'
import { disarmActive } from '../../packages/core/src/engine/session.js'

afterEach(() => {
  disarmActive()
})
