#!/usr/bin/env bash
# Installs what faultline needs on a fresh Debian/Ubuntu machine (as root), only what is missing:
# clang (BPF build), libbpf1 + libbpf-dev (runtime + headers), bpftool, iproute2 and runc (tests),
# then the npm dependencies. Safe to run again: it does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null || need+=(clang)
command -v llvm-strip >/dev/null || need+=(llvm)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
ldconfig -p 2>/dev/null | grep -q 'libbpf.so.1 ' || need+=(libbpf1)
command -v bpftool >/dev/null || need+=(bpftool)
command -v tc >/dev/null || need+=(iproute2)
command -v strace >/dev/null || need+=(strace)
command -v python3 >/dev/null || need+=(python3)
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v go >/dev/null || need+=(golang-go)  # the Go fixture: Go's runtime makes raw syscalls
command -v runc >/dev/null || need+=(runc)  # the container tests (test/integration/containers.test.ts)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "faultline setup: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "faultline setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm ci when the lock matches, npm install otherwise. Never --omit=optional: koffi's native
# part is the optional dependency @koromix/koffi-linux-x64.
if [ ! -d node_modules/koffi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
fi
