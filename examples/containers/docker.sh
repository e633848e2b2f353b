#!/bin/sh
# Runs the project's tests in a container with what faultline needs; podman takes the same flags.
# Docker >= 20.10 knows CAP_BPF and CAP_PERFMON; older releases: --cap-add SYS_ADMIN instead.
set -e
docker run --rm \
  --cap-add BPF --cap-add PERFMON --cap-add NET_ADMIN \
  --security-opt seccomp=unconfined \
  -v "$PWD":/src -w /src node:20-bookworm \
  sh -c 'apt-get update -qq && apt-get install -y -qq libbpf1 iproute2 >/dev/null && npm ci && npx faultline doctor && npx vitest run'
# or: docker run --rm --privileged ...
