#!/usr/bin/env bash
# Builds the BPF objects (clang, into packages/core/bpf/) and the TypeScript packages
# (ESM + declarations with tsc, plus a CommonJS bundle of the core for require()/Jest).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C bpf
npx tsc -b
node scripts/build-cjs.mjs
chmod +x packages/core/dist/cli/main.js
