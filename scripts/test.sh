#!/usr/bin/env bash
# The whole host test suite: unit + integration tests on the real kernel (vitest; the adapters'
# and the examples' own suites run inside it: vitest-plugin, jest-environment and examples tests).
# Prints one closing line: N passed, N failed, N skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .test-results
rm -f .test-results/*.json

# The whole suite (no arguments) is this machine's: its skips are checked against the host's
# expected list in test/vm/kernels.mjs (FAULTLINE_KERNEL names another entry, or none to check nothing).
export FAULTLINE_KERNEL="${FAULTLINE_KERNEL-host}"
npx vitest run --reporter=default --reporter=json --outputFile=.test-results/host.json "$@"
if [ $# -eq 0 ] && [ -n "$FAULTLINE_KERNEL" ]; then
  node scripts/summarize.mjs .test-results --expect "$FAULTLINE_KERNEL"
else
  node scripts/summarize.mjs .test-results
fi
