#!/usr/bin/env bash
# Builds the BPF objects (clang, into packages/core/bpf/) and the TypeScript packages
# (ESM + declarations with tsc, plus a CommonJS bundle of the core for require()/Jest).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C bpf
npx tsc -b
node scripts/build-cjs.mjs
chmod +x packages/core/dist/cli/main.js
# The config's JSON Schema, shipped as @faultline/core/schema.json (generated from the validator's tables).
node packages/core/dist/cli/main.js schema > packages/core/dist/faultline.schema.json
# Test fixture in Go (its runtime makes raw syscalls, no libc): built here, not in the VMs.
mkdir -p test/fixtures/bin
(cd test/fixtures/go-open && CGO_ENABLED=0 GOCACHE="${GOCACHE:-/tmp/faultline-gocache}" HOME="${HOME:-/tmp}" go build -o ../bin/go-open .)
