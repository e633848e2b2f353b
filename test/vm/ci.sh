#!/usr/bin/env bash
# CI: the kernel matrix after the host suite (npm test already ran on the host kernel), then the
# packed tarball on arm64. The x86-64 kernels run the whole suite; debian-6.12-arm64 runs its
# subset (KERNELS['debian-6.12-arm64'].suite in kernels.mjs: one test per mechanism).
# Counts land in .test-results/vm.counts.json and acceptance-arm64.counts.json, which .ci/run
# adds to its closing line.
set -uo pipefail
cd "$(dirname "$0")/../.."
node test/vm/matrix.mjs --kernel debian-6.1,debian-6.12,fei-6.12,debian-6.12-arm64
matrix=$?
bash test/acceptance/packed-arm64.sh
arm64=$?
[ $matrix -eq 0 ] && [ $arm64 -eq 0 ]
