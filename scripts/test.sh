#!/usr/bin/env bash
# The whole host test suite: unit + integration tests on the real kernel (vitest), then the
# adapters' and examples' suites when present. Prints one closing line: N passed, N failed, N skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .test-results
rm -f .test-results/*.json

npx vitest run --reporter=default --reporter=json --outputFile=.test-results/host.json "$@"
[ -x test/adapters/run.sh ] && [ $# -eq 0 ] && bash test/adapters/run.sh
[ -x examples/run-all.sh ] && [ $# -eq 0 ] && bash examples/run-all.sh
node scripts/summarize.mjs .test-results
