#!/usr/bin/env bash
# Acceptance as a new user: npm pack the packages, install the tarballs into fresh projects
# outside the repository, copy the quick start, run it: Vitest 4 on Node 20, Vitest 5 on Node 24
# (from the npm registry's `node` package), Vitest 4 as an unprivileged user (the test must
# be skipped with a reason naming the missing capabilities), Jest 30 and 29, and node:test
# (@faultline/core/node-test, ESM and CommonJS) on Node 20 and Node 24. Writes .test-results/acceptance.counts.json.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/fl-accept-XXXX)
chmod 755 "$work"
passed=0; failed=0
# Every run's exit status is kept (rc): a run that printed the fault's line but failed an
# assertion after it fails its case; a refusal must exit non-zero.
rc=0
passes() { [ "$rc" -eq 0 ] && grep -q "$1" <<<"$out" || { echo "$out" | tail -30; false; }; } # the run exited 0 and printed $1
refused() { [ "$rc" -ne 0 ] && grep -q "$1" <<<"$out" || { echo "$out" | tail -30; false; }; } # the run failed, printing $1
check() { if "$@"; then passed=$((passed+1)); echo "acceptance: ok: $CASE"; else failed=$((failed+1)); echo "acceptance: FAILED: $CASE"; fi; }
for p in core vitest-plugin jest-environment; do (cd "$repo/packages/$p" && npm pack --silent --pack-destination "$work" >/dev/null); done
setup() { # dir, extra npm packages...
  mkdir -p "$1" && cd "$1" && npm init -y >/dev/null && shift
  npm install --silent --no-audit --no-fund "$@" "$work"/faultline-core-*.tgz "$work"/faultline-vitest-plugin-*.tgz >/dev/null 2>&1
  printf "import { defineConfig } from 'vitest/config'\nimport { faultline } from '@faultline/vitest-plugin'\nexport default defineConfig({ plugins: [faultline({ onUnsupported: 'skip' })] })\n" > vitest.config.mjs
  cp "$repo/test/acceptance/quickstart.test.mjs" "$repo/test/acceptance/readme-example.test.mjs" .
}
kinds() { # the delay and DNS kinds from the tarball (test/acceptance/kinds.test.mjs), in its own run
  cp "$repo/test/acceptance/kinds.test.mjs" . && out=$(node node_modules/vitest/vitest.mjs run kinds.test.mjs 2>&1); rc=$?; rm kinds.test.mjs
  passes "kinds-slow-open fired 1x" && { grep -q "api.example.com fired" <<<"$out" || { echo "$out" | tail -30; false; }; }
}
setup "$work/v4" vitest@4
CASE="Vitest 4, Node $(node -v), root: fault fired, summary printed"
out=$(node node_modules/vitest/vitest.mjs run 2>&1); rc=$?
check passes "db-down fired 1x (connect via cgroup)"
CASE="Vitest 4: the README's withFailureConfig, called inside a test, is in the report"
check passes "readme-db-down fired 1x (connect via cgroup)"
CASE="Vitest 4: a delay rule and a DNS rule from the tarball fire, in the report"
check kinds
CASE="Vitest 4, unprivileged: skipped with the missing capabilities named"
chown -R nobody "$work/v4"
# the quick start only: the README's example calls withFailureConfig itself, which throws without
# the capabilities (onUnsupported: 'skip' is the plugin's fixture's, faults.with)
out=$(runuser -u nobody -- env HOME=/tmp node node_modules/vitest/vitest.mjs run quickstart.test.mjs --reporter=verbose 2>&1); rc=$?
check passes "faultline needs CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN.*sudo"
setup "$work/v5" vitest@5 node@24
CASE="Vitest 5, Node $(node_modules/.bin/node -v 2>/dev/null): fault fired, summary printed"
out=$(node_modules/.bin/node node_modules/vitest/vitest.mjs run 2>&1); rc=$?
check passes "db-down fired 1x (connect via cgroup)"
jest_setup() { # dir, jest version
  mkdir -p "$1" && cd "$1" && npm init -y >/dev/null
  npm install --silent --no-audit --no-fund "jest@$2" "$work"/faultline-core-*.tgz "$work"/faultline-jest-environment-*.tgz >/dev/null 2>&1
  printf "module.exports = { testEnvironment: '@faultline/jest-environment', testEnvironmentOptions: { faultline: { onUnsupported: 'skip' } } }\n" > jest.config.js
  cp "$repo/test/acceptance/quickstart.jest.test.cjs" quickstart.test.js
  cp "$repo/test/acceptance/readme-example.jest.test.cjs" readme-example.test.js
}
for v in 30 29; do
  jest_setup "$work/jest$v" "$v"
  CASE="Jest $(node node_modules/jest/bin/jest.js --version 2>/dev/null), Node $(node -v): fault fired, summary printed"
  out=$(node node_modules/jest/bin/jest.js 2>&1); rc=$?
  check passes "db-down fired 1x (connect via cgroup)"
  CASE="Jest $v: the README's withFailureConfig, required in a test, is in the summary"
  check passes "readme-db-down fired 1x (connect via cgroup)"
done
node_test_setup() { # dir, extra npm packages...
  mkdir -p "$1" && cd "$1" && npm init -y >/dev/null && shift
  npm install --silent --no-audit --no-fund "$@" "$work"/faultline-core-*.tgz >/dev/null 2>&1
  cp "$repo/test/acceptance/quickstart.node.test.mjs" quickstart.test.mjs
  cp "$repo/test/fixtures/node-test/concurrent.mjs" concurrent.test.mjs
  cp "$repo/test/fixtures/node-test/require.cjs" require.test.cjs
}
node_test_cases() { # node binary
  CASE="node:test, Node $("$1" -v): fault fired, summary printed"
  out=$("$1" --test quickstart.test.mjs 2>&1); rc=$?
  check passes "db-down fired 1x (connect via cgroup)"
  CASE="node:test, Node $("$1" -v), require('@faultline/core/node-test')"
  out=$("$1" --test require.test.cjs 2>&1); rc=$?
  check passes "armed through the CommonJS entry: refused fired 0x"
  CASE="node:test, Node $("$1" -v): concurrency 2 refused, naming the setting"
  out=$("$1" --test concurrent.test.mjs 2>&1); rc=$?
  check refused '`concurrency` above 1'
}
node_test_setup "$work/nt20"
node_test_cases node
node_test_setup "$work/nt24" node@24
node_test_cases "$PWD/node_modules/.bin/node"
CASE="node:test, Node 24, --test-isolation=none: refused, naming the setting"
out=$(node_modules/.bin/node --test --test-isolation=none quickstart.test.mjs 2>&1); rc=$?
check refused "test-isolation=none runs every test file in one process"
mkdir -p "$repo/.test-results"
echo "{\"passed\": $passed, \"failed\": $failed, \"skipped\": 0}" > "$repo/.test-results/acceptance.counts.json"
echo "acceptance: $passed passed, $failed failed"
rm -rf "$work"
[ "$failed" -eq 0 ]
