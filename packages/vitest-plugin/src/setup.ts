/** Loaded in every test file (setupFiles): records every arming a test makes, whichever API made
 * it (faults.with, faultTest, withFailureConfig or arm from @faultline/core), for the report and
 * failOnUnfired; and the backstop that disarms whatever a test left armed (a timed-out test
 * abandons its callback, which then never reaches its own disarm). */
import { afterEach, beforeEach, inject } from 'vitest'
import { disarmActive, formatExploreReport, observeArmings, observeExplorations, rulesFired, type FaultsHandle } from '@faultline/core'
import type { FaultRecord } from './options.js'

const armed: FaultsHandle[] = []
observeArmings((h) => armed.push(h))
// The opt-in to links kept between tests (the environment, when set, wins).
if (inject('faultlineOptions')?.keepLinks && process.env.FAULTLINE_KEEP_LINKS === undefined) process.env.FAULTLINE_KEEP_LINKS = 'on'
const explored: string[] = []
observeExplorations((r) => explored.push(formatExploreReport(r, '    ')))

beforeEach(() => {
  armed.length = 0 // armings of beforeAll hooks belong to no test
  explored.length = 0
})

afterEach(({ task }) => {
  disarmActive()
  if (explored.length) task.meta.faultlineExplore = [...(task.meta.faultlineExplore ?? []), ...explored.splice(0)]
  const handles = armed.splice(0)
  if (!handles.length) return
  const records: FaultRecord[] = handles.flatMap(rulesFired)
  task.meta.faultline = [...(task.meta.faultline ?? []), ...records]
  const unfired = records.filter((r) => r.fired === 0).map((r) => r.rule)
  if ((inject('faultlineOptions') ?? {}).failOnUnfired && unfired.length && task.result?.state !== 'fail') {
    throw new Error(`faultline: rule(s) ${unfired.join(', ')} never fired: the failure path this test is about was never taken (failOnUnfired)`)
  }
})
