#!/usr/bin/env bash
# npm run test:reliability: the reliability suite (test/reliability/), then its report from this
# run's figures: docs/reliability.md at scale 1 (issue 11's counts), docs/reliability-scale-<s>.md
# at another FAULTLINE_RELIABILITY_SCALE (CI: 0.2).
# Extra arguments go to vitest (a file filter, reporters).
set -uo pipefail
cd "$(dirname "$0")/.."
# One run's figures only: the report never mixes runs, and a section this run skipped (or a
# file filter left out) is reported as not run instead of republishing an older run's figures.
export FAULTLINE_RELIABILITY_SCALE="${FAULTLINE_RELIABILITY_SCALE:-1}"
export FAULTLINE_RELIABILITY_RUN="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
rm -rf .test-results/reliability
npx vitest run --config test/reliability/vitest.config.ts "$@"
status=$?
node scripts/reliability-report.mjs || status=1
exit $status
