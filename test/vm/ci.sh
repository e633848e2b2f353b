#!/usr/bin/env bash
# CI: the kernel matrix after the host suite (npm test already ran on the host kernel).
# Its counts land in .test-results/vm.counts.json, which .ci/run adds to the closing line.
set -uo pipefail
cd "$(dirname "$0")/../.."
node test/vm/matrix.mjs --kernel debian-6.1,debian-6.12,fei-6.12
