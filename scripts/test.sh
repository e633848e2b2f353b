#!/usr/bin/env bash
# The whole host test suite: unit + integration tests on the real kernel (vitest; the adapters'
# and the examples' own suites run inside it: vitest-plugin, jest-environment and examples tests).
# Prints one closing line: N passed, N failed, N skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .test-results
rm -f .test-results/*.json

npx vitest run --reporter=default --reporter=json --outputFile=.test-results/host.json "$@"
node scripts/summarize.mjs .test-results
