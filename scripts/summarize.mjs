// Sums every vitest/jest JSON report in a folder (and *.counts.json files of the form
// {passed, failed, skipped}) into the closing line CI reads. Lists skip reasons and failures.
import fs from 'node:fs'
import path from 'node:path'
import { failureHead } from './failure-head.mjs'

const dir = process.argv[2] ?? '.test-results'
let passed = 0, failed = 0, skipped = 0
const skips = [], failures = []
for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
  if (!f.endsWith('.json')) continue
  const data = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))
  if (f.endsWith('.counts.json')) {
    passed += data.passed ?? 0; failed += data.failed ?? 0; skipped += data.skipped ?? 0
    continue
  }
  for (const file of data.testResults ?? []) {
    const rel = path.relative(process.cwd(), file.name)
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) {
      failed++; failures.push(`${rel}: ${file.message?.split('\n')[0] ?? 'suite failed'}`)
    }
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'passed') passed++
      else if (t.status === 'failed') { failed++; failures.push(`${rel} > ${t.fullName}${failureHead(t)}`) }
      else { skipped++; skips.push(`${rel} > ${t.fullName}${t.meta?.skipReason ? ` (${t.meta.skipReason})` : ''}`) }
    }
  }
}
if (skips.length) console.log(`\nskipped:\n${skips.map((s) => `  - ${s}`).join('\n')}`)
if (failures.length) console.log(`\nfailed:\n${failures.map((s) => `  - ${s}`).join('\n')}`)
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
