// Sums every vitest/jest JSON report in a folder (and *.counts.json files of the form
// {passed, failed, skipped}) into the closing line CI reads. Lists skip reasons and failures.
// --expect <kernel>: every skip reason is checked against what that machine of test/vm/kernels.mjs
// is expected to have (test/vm/skips.mjs); a wrong or unknown one counts as a failure.
// --ran-somewhere (CI, after the whole matrix): a test skipped in every report here that no VM
// kernel ran either (vm.counts.json's `ran`) runs nowhere, and counts as a failure.
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { failureHead } from './failure-head.mjs'

const { values, positionals } = parseArgs({ options: { expect: { type: 'string' }, 'ran-somewhere': { type: 'boolean' } }, allowPositionals: true })
const dir = positionals[0] ?? '.test-results'
const judge = values.expect ? await import('../test/vm/skips.mjs') : undefined
const expected = judge?.expectedOn(values.expect)
let passed = 0, failed = 0, skipped = 0
const skips = [], failures = []
/** Tests by their path from test/ on (a report's file names are relative to where it ran). */
const testId = (file, name) => `${`/${file}`.slice(`/${file}`.lastIndexOf('/test/') + 1)} > ${name}`
const ranSomewhere = new Set()
/** Skipped here: test id -> the line listing it. */
const skippedHere = new Map()
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
  if (!f.endsWith('.json')) continue
  const data = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))
  if (f.endsWith('.counts.json')) {
    passed += data.passed ?? 0; failed += data.failed ?? 0; skipped += data.skipped ?? 0
    for (const k of data.kernels ?? []) for (const id of k.ran ?? []) ranSomewhere.add(id)
    continue
  }
  for (const file of data.testResults ?? []) {
    const rel = path.relative(process.cwd(), file.name)
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) {
      failed++; failures.push(`${rel}: ${file.message?.split('\n')[0] ?? 'suite failed'}`)
    }
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'passed' || t.status === 'failed') ranSomewhere.add(testId(rel, t.fullName))
      if (t.status === 'passed') passed++
      else if (t.status === 'failed') { failed++; failures.push(`${rel} > ${t.fullName}${failureHead(t)}`) }
      else {
        const name = `${rel} > ${t.fullName}${t.meta?.skipReason ? ` (${t.meta.skipReason})` : ''}`
        const wrong = judge?.wrongSkip(t.meta?.skipReason, expected)
        if (wrong) { failed++; failures.push(`skipped but should not have (${values.expect}: ${wrong}): ${name}`) }
        else { skipped++; skips.push(name); skippedHere.set(testId(rel, t.fullName), name) }
      }
    }
  }
}
if (values['ran-somewhere']) {
  for (const [id, name] of skippedHere) {
    if (!ranSomewhere.has(id)) { failed++; skipped--; failures.push(`skipped here and run by no VM kernel either: ${name}`) }
  }
}
if (skips.length) console.log(`\nskipped:\n${skips.map((s) => `  - ${s}`).join('\n')}`)
if (failures.length) console.log(`\nfailed:\n${failures.map((s) => `  - ${s}`).join('\n')}`)
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
