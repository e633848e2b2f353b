#!/usr/bin/env bash
# Acceptance on arm64: the @faultline/core tarball packed here (x86-64) is installed into a
# fresh project the way npm does it on an arm64 machine (npm install --cpu=arm64: koffi's
# arm64 part), and run in the arm64 VM (test/vm, kernel debian-6.12-arm64, the registry's arm64
# Node): a script arms a socket fault and an openat fault and checks what the process sees;
# then the README's quick start runs under Vitest 4 there. Writes .test-results/acceptance-arm64.counts.json
# (and the VMs' output to acceptance-arm64.log).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# Outside /tmp's tmpfs-in-the-guest would work too; under /tmp the VM binds it from the host.
work=$(mktemp -d /tmp/fl-accept-arm64-XXXX)
chmod 755 "$work"
passed=0; failed=0
check() { if "$@"; then passed=$((passed+1)); echo "acceptance-arm64: ok: $CASE"; else failed=$((failed+1)); echo "acceptance-arm64: FAILED: $CASE"; fi; }
for p in core vitest-plugin; do (cd "$repo/packages/$p" && npm pack --silent --pack-destination "$work" >/dev/null); done
cd "$work" && npm init -y >/dev/null
npm install --silent --no-audit --no-fund --cpu=arm64 --os=linux vitest@4 "$work"/faultline-core-*.tgz "$work"/faultline-vitest-plugin-*.tgz >/dev/null 2>&1
printf "import { defineConfig } from 'vitest/config'\nimport { faultline } from '@faultline/vitest-plugin'\nexport default defineConfig({ plugins: [faultline({ onUnsupported: 'skip' })] })\n" > vitest.config.mjs
cp "$repo/test/acceptance/quickstart.test.mjs" .
cat > arm.mjs <<'JS'
// A socket fault (cgroup) and an openat fault with a path filter, armed from the packed package.
import fs from 'node:fs'
import net from 'node:net'
import { withFailureConfig } from '@faultline/core'
const connect = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1')
  c.on('connect', () => { c.destroy(); resolve('ok') })
  c.on('error', (e) => resolve(e.code))
})
const open = (p) => { try { fs.closeSync(fs.openSync(p, 'r')); return 'ok' } catch (e) { return e.code } }
const dir = fs.mkdtempSync('/tmp/fl-cfg-')
fs.writeFileSync(`${dir}/app.json`, '{}')
const srv = net.createServer((s) => s.end()).listen(0, '127.0.0.1')
await new Promise((r) => srv.on('listening', r))
const port = srv.address().port
const during = await withFailureConfig({ syscalls: [
  { name: 'db-down', syscall: 'connect', errno: 'ECONNREFUSED', match: { port } },
  { name: 'no-config', syscall: 'openat', errno: 'ENOENT', match: { path: `${dir}/**` } },
] }, async (f) => ({ connect: await connect(port), open: open(`${dir}/app.json`), other: open('/etc/hosts'), stats: f.stats() }))
const after = { connect: await connect(port), open: open(`${dir}/app.json`) }
srv.close()
console.log(JSON.stringify({ arch: process.arch, during: { ...during, stats: Object.fromEntries(Object.entries(during.stats).map(([k, v]) => [k, `${v.mechanism}:${v.fired}`])) }, after }))
JS
mkdir -p "$repo/.test-results"
log="$repo/.test-results/acceptance-arm64.log"
vm() { node "$repo/test/vm/vm.mjs" --kernel debian-6.12-arm64 --timeout 900 -- "$@" 2>&1 | tee -a "$log"; }
: > "$log"
# One boot for both: the script, then the quick start.
out=$(vm sh -c 'node arm.mjs; node node_modules/vitest/vitest.mjs run')
# A guest kernel oops (the VM boots with oops=panic, so it stops at once) gets one more boot,
# as in the VM matrix; it stays in the log and is named here.
if grep -q 'Kernel panic' <<<"$out"; then
  echo "acceptance-arm64: the guest panicked ($(grep -m1 -o 'Oops[^[:cntrl:]]*' <<<"$out"), see $log); once more"
  out=$(vm sh -c 'node arm.mjs; node node_modules/vitest/vitest.mjs run')
fi
CASE="packed on $(uname -m), arm64 Node $(node -v) in the VM: connect refused and openat failed while armed, both fine after"
check grep -Eq '"arch":"arm64","during":\{"connect":"ECONNREFUSED","open":"ENOENT","other":"ok","stats":\{"db-down":"cgroup:1","no-config":"(lsm|security-fmod-ret):1"\}\},"after":\{"connect":"ok","open":"ok"\}' <<<"$out"
CASE="Vitest 4 quick start on arm64 Node: fault fired, summary printed"
check grep -q "db-down fired 1x (connect via cgroup)" <<<"$out"
echo "{\"passed\": $passed, \"failed\": $failed, \"skipped\": 0}" > "$repo/.test-results/acceptance-arm64.counts.json"
echo "acceptance-arm64: $passed passed, $failed failed"
rm -rf "$work"
[ "$failed" -eq 0 ]
