#!/usr/bin/env bash
# Runs the quickstart example: faults injected by the kernel, handled by the code under test.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "faultline demo: examples/quickstart (connect() refused by the kernel, per test)"
DEBUG="${DEBUG:-}" npx vitest run --root examples/quickstart
