#!/usr/bin/env bash
# npm run test:reliability: the reliability suite (test/reliability/), then docs/reliability.md
# from its figures. FAULTLINE_RELIABILITY_SCALE scales the counts (1 = issue 11's; CI: 0.2).
# Extra arguments go to vitest (a file filter, reporters).
set -uo pipefail
cd "$(dirname "$0")/.."
npx vitest run --config test/reliability/vitest.config.ts "$@"
status=$?
node scripts/reliability-report.mjs
exit $status
