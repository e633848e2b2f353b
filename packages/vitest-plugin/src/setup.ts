/** Loaded in every test file (setupFiles): the backstop that disarms whatever a test left armed
 * (a timed-out test abandons its callback, which then never reaches its own disarm). */
import { afterEach } from 'vitest'
import { disarmActive } from '@faultline/core'

afterEach(() => {
  disarmActive()
})
