#!/usr/bin/env node
// npm run test:vm [-- --kernel a,b] [--verbose] [vitest filters...]
// Runs the integration suite on every kernel of the matrix and prints kernel x test file with
// pass/fail/skip counts. A test skipped for a feature its kernel should have (KERNELS[k].expect),
// or for one it is not expected to have, or for an unknown reason (skips.mjs) counts as a failure. Writes .test-results/vm.counts.json for the closing line of CI.
import fs from 'node:fs'
import path from 'node:path'
import { failureHead } from '../../scripts/failure-head.mjs'
import { KERNELS, REPO } from './kernels.mjs'
import { expectedOn, wrongSkip } from './skips.mjs'
import { EXIT_TIMEOUT, EXIT_VM_DIED, runInVm } from './run-vm.mjs'

const args = process.argv.slice(2)
const kArg = args.indexOf('--kernel')
const kernels = kArg >= 0 ? args[kArg + 1].split(',') : Object.keys(KERNELS)
const verbose = args.includes('--verbose')
const filters = args.filter((a, i) => !a.startsWith('--') && i !== kArg + 1)
const BEGIN = '@@FL-REPORT-BEGIN@@'
const DIED = '@@FL-RUNNER-DIED@@'
const END = '@@FL-REPORT-END@@'
const logDir = path.join(REPO, '.test-results', 'vm-logs')
fs.mkdirSync(logDir, { recursive: true })

// Under TCG on a loaded 2-core machine a Python or Node child takes seconds to start: a VM run
// gets four times the host's per-test time (a limit against hangs, not a claim about speed).
// Vitest straight from node_modules (no npm startup: slow under emulation). Without filters a
// kernel runs its own suite (KERNELS[k].suite) if it names one, else every test file but its
// KERNELS[k].exclude (files given on the command line run as given).
// In a VM, pin-keys.mjs first holds a program on each hot hook for the whole run (it says why).
const PIN = `node test/vm/pin-keys.mjs /tmp/fl-pinned & for i in $(seq 600); do [ -s /tmp/fl-pinned ] && break; sleep 0.2; done; cat /tmp/fl-pinned; `
// `done`: files that ended in a run a guest panic or a crash of the runner cut short; the retry
// leaves them out. A runner killed by a signal says so, with the kernel's words on it (dmesg).
// The report file is removed first: on the host it outlives a run, and a runner that died would
// leave the last run's report to be read as its own.
const suiteOf = (kernel, done = []) => `rm -f /tmp/fl-report.json; ${kernel === 'host' ? '' : PIN}node node_modules/vitest/vitest.mjs run --testTimeout=120000 --hookTimeout=120000 --reporter=dot --reporter=json --reporter=./test/vm/file-reporter.mjs --outputFile=/tmp/fl-report.json ${[...(filters.length ? filters : [...(KERNELS[kernel]?.suite ?? []), ...(KERNELS[kernel]?.exclude ?? []).map((g) => `--exclude '${g}'`)]), ...done.map((f) => `--exclude '${path.relative(REPO, f)}'`), ...(done.length ? ['--passWithNoTests'] : [])].join(' ')}; ` +
  `st=$?; if [ $st -gt 128 ]; then echo "${DIED}$st"; ${kernel === 'host' ? '' : `dmesg | grep -iE 'segfault|unhandled|traps:|fault at' | tail -4; `}fi; ` +
  `echo ${BEGIN}; cat /tmp/fl-report.json; echo; echo ${END}`

/** The files a run's console says ended (file-reporter.mjs), in the JSON reporter's shape; a line a panic cut is left out. */
function filesEnded(output) {
  const out = []
  for (const m of output.matchAll(/@@FL-FILE@@(.*?)@@FL-FILE-END@@/g)) {
    try { out.push(JSON.parse(m[1])) } catch { /* cut short: not ended */ }
  }
  return out
}
/** What a run's console says: the files that ended, and those it started but did not end (relative paths, sorted). */
function progress(output) {
  const ended = filesEnded(output)
  const names = new Set(ended.map((f) => f.name))
  const started = [...output.matchAll(/@@FL-FILE-START@@(.*?)@@FL-FILE-START-END@@/g)].map((m) => JSON.parse(m[1]))
  return { ended, unfinished: started.filter((f) => !names.has(f)).map((f) => path.relative(REPO, f)).sort() }
}
// A guard against a hung guest, not a budget (CI's budget is the whole run's, .ci/run); the
// slowest kernel took 1295 s in a rehearsal on a loaded machine. FAULTLINE_VM_GUARD_S changes it.
const GUARD_S = Number(process.env.FAULTLINE_VM_GUARD_S) || 1800

const results = []
for (const kernel of kernels) {
  const t0 = Date.now()
  process.stdout.write(`vm matrix: ${kernel} (${KERNELS[kernel]?.describe ?? '?'}) ...\n`)
  let run
  /** What cut each run short: a guest panic, or the test runner killed by a signal. */
  const cuts = []
  /** Files that ended before a run was cut short (file-reporter.mjs): kept, not run again. */
  const ended = []
  /** The files each cut left unfinished: the same twice in a row is a crash they cause, not TCG's noise. */
  let lastCut
  let interrupted = false
  let lastLog = `${kernel}.log`
  try {
    // A guest that oopses (oops=panic: it stops at once instead of hanging to the timeout), or a
    // test runner killed by a signal, is run again for the files that had not ended, up to twice;
    // what cut it stays in the summary and in <kernel>.cut*.log. A cut that leaves the same files
    // unfinished as the one before fails the kernel at once (a crash those files cause is no
    // emulator noise), as does a third. Seen: Vitest's own process ended by SIGSEGV after every
    // file had ended (debian-6.12-arm64, 2 of 7 runs here, no JSON report written); an int3
    // left by the kernel's own text patching (static keys, trampolines), which QEMU's multi-threaded TCG ran from a
    // stale translation (6.12 at __alloc_pages, syscall_exit_to_user_mode_prepare and the
    // fentry site of __x64_sys_read, which every trampoline attach re-patches), and a
    // NULL dereference in list_lru_add under mkdirat (arm64 6.12.117, once).
    let restarted = false
    for (let attempt = 1; ; attempt++) {
      const logFile = path.join(logDir, attempt === 1 ? `${kernel}.log` : `${kernel}.retry${attempt === 2 ? '' : attempt - 1}.log`)
      const log = fs.createWriteStream(logFile)
      lastLog = path.basename(logFile)
      // On the host the same command runs directly (no VM), with a report file of its own.
      run = await runInVm(kernel, ['sh', '-c', suiteOf(kernel, ended.map((e) => e.name)).replaceAll('/tmp/fl-report.json', kernel === 'host' ? '.test-results/vm-host.json.tmp' : '/tmp/fl-report.json')], {
        timeout: GUARD_S,
        // the guest's expected-features test reads which kernel of kernels.mjs it runs on
        env: { ...process.env, FAULTLINE_KERNEL: kernel },
        onOutput: (s) => { log.write(s); if (verbose) process.stdout.write(s) },
      })
      log.end()
      const oops = /Oops[^\n]*/.exec(run.output)
      // x86: "RIP: 0010:__x64_sys_read+0x5/0x20"; arm64: "pc : list_lru_add+0xe4/0x198"
      const where = /(?:RIP: [0-9a-f]{4}:|pc : )(\S+)/.exec(run.output)?.[1]
      // A VM that died before the guest began the command (seen once in a CI rehearsal: fei-6.12
      // ended in 5 s with no output, and started fine again) is started once more.
      if (run.status === EXIT_VM_DIED && !run.started && !restarted) {
        restarted = true
        process.stdout.write(`vm matrix: ${kernel}: the VM ended before the command started (${run.why}); starting it once more\n`)
        continue
      }
      // an oops (oops=panic) or a panic of its own ("Kernel panic - not syncing: ...")
      const panic = !run.output.includes(END) && /Kernel panic[^\n]*/.exec(run.output)
      const died = new RegExp(`${DIED}(\\d+)\\n((?:.*\\n){0,4}?)${BEGIN}`).exec(run.output)
      interrupted = Boolean(panic) || (Boolean(died) && !run.output.includes('"numTotalTests"'))
      if (!interrupted) break
      cuts.push(panic
        ? `the guest panicked: ${(oops ?? panic)[0].trim()}${where ? ` at ${where}` : ''}`
        : `the test runner died of signal ${Number(died[1]) - 128}${died[2].trim() ? ` (${died[2].trim().split('\n').at(-1).replace(/^\[[\s\d.]+\]\s*/, '')})` : ''}`)
      const cutLog = `${kernel}.cut${cuts.length === 1 ? '' : cuts.length}.log`
      fs.copyFileSync(logFile, path.join(logDir, cutLog))
      const { ended: endedNow, unfinished } = progress(run.output)
      const cut = unfinished.join(', ')
      const again = cuts.length < 3 && cut !== lastCut
      lastCut = cut
      if (!again) break
      ended.push(...endedNow)
      process.stdout.write(`vm matrix: ${kernel}: ${cuts.at(-1)} (see ${cutLog}); running again the files that had not ended (${ended.length} had; cut short: ${cut || 'none'})\n`)
    }
  } catch (err) {
    results.push({ kernel, error: err.message, files: [], seconds: 0 })
    continue
  }
  if (cuts.length && !interrupted) process.stdout.write(`vm matrix: ${kernel}: ran again after ${cuts.join('; ')}\n`)
  const text = run.output
  let report
  try {
    report = JSON.parse(text.slice(text.indexOf(BEGIN) + BEGIN.length, text.lastIndexOf(END)).trim())
  } catch {
    // No report (the guard stopped a hung guest, or the VM died): the files that ended still
    // count, and the error names the files it cut short, so one hang costs its own file only.
  }
  const cutShort = report ? undefined : progress(text)
  const endedNow = report ? report.testResults : cutShort.ended
  const expected = expectedOn(kernel)
  const files = [...ended, ...endedNow].map((f) => {
    const row = { file: path.relative(REPO, f.name), passed: 0, failed: 0, skipped: 0, wrongSkips: [], failures: [], ran: [], seconds: (f.endTime - f.startTime) / 1000 || 0 }
    if (f.status === 'failed' && f.assertionResults.length === 0) {
      row.failed++
      row.failures.push(f.message?.split('\n')[0] ?? 'suite failed to run')
    }
    for (const t of f.assertionResults) {
      if (t.status === 'passed' || t.status === 'failed') row.ran.push(`${row.file} > ${t.fullName}`)
      if (t.status === 'passed') row.passed++
      else if (t.status === 'failed') { row.failed++; row.failures.push(`${t.fullName}${failureHead(t)}`) }
      else {
        // every reason: a feature or condition the kernel should have, the converse, or an unknown reason
        const wrong = wrongSkip(t.meta?.skipReason, expected)
        if (wrong) { row.failed++; row.wrongSkips.push(`${t.fullName} (${t.meta?.skipReason ?? 'no reason'}: ${wrong})`) }
        else row.skipped++
      }
    }
    return row
  })
  const seconds = (Date.now() - t0) / 1000
  if (cutShort) {
    const cut = cutShort.unfinished
    const what = interrupted ? `cut short ${cuts.length} times (${cuts.join('; ')})`
      : run.status === EXIT_TIMEOUT ? `stopped by the ${GUARD_S} s guard against a hung guest`
        : `no test report (exit ${run.status}${run.why ? `; ${run.why}` : ''})`
    results.push({ kernel, error: `${what}; ${files.length} files had ended (counted), cut short: ${cut.join(', ') || 'none'}; see ${path.relative(REPO, path.join(logDir, lastLog))}`, files, seconds })
    continue
  }
  results.push({ kernel, files, seconds })
}

// The table: one row per test file, one column per kernel.
const allFiles = [...new Set(results.flatMap((r) => r.files.map((f) => f.file)))].sort()
const cell = (r, file) => {
  const f = r.files.find((x) => x.file === file)
  return f ? `${f.passed}/${f.failed}/${f.skipped}` : r.error ? 'error' : '-'
}
const w0 = Math.max(10, ...allFiles.map((f) => f.length))
const widths = results.map((r) => Math.max(r.kernel.length, 9))
console.log(`\nkernel matrix: passed/failed/skipped per test file`)
console.log(['test file'.padEnd(w0), ...results.map((r, i) => r.kernel.padStart(widths[i]))].join('  '))
for (const file of allFiles) console.log([file.padEnd(w0), ...results.map((r, i) => cell(r, file).padStart(widths[i]))].join('  '))
console.log(['time'.padEnd(w0), ...results.map((r, i) => `${r.seconds.toFixed(0)} s`.padStart(widths[i]))].join('  '))
// Where each kernel's time goes (files run two at a time, so these add up to more than its time).
for (const r of results) {
  const slow = [...r.files].sort((a, b) => b.seconds - a.seconds).slice(0, 6)
  if (slow.length) console.log(`slowest on ${r.kernel}: ${slow.map((f) => `${path.basename(f.file, '.test.ts')} ${f.seconds.toFixed(0)} s`).join(', ')}`)
}
let passed = 0, failed = 0, skipped = 0
for (const r of results) {
  if (r.error) { failed++; console.log(`\n${r.kernel}: ${r.error}`) }
  for (const f of r.files) {
    passed += f.passed; failed += f.failed; skipped += f.skipped
    for (const x of f.failures) console.log(`  FAIL [${r.kernel}] ${f.file} > ${x}`)
    for (const x of f.wrongSkips) console.log(`  WRONG SKIP [${r.kernel}] ${f.file} > ${x}`)
  }
}
fs.mkdirSync(path.join(REPO, '.test-results'), { recursive: true })
// `ran`: the tests each kernel ran (passed or failed), for summarize.mjs --ran-somewhere, which
// fails a test the host skipped that no kernel ran either.
fs.writeFileSync(path.join(REPO, '.test-results', 'vm.counts.json'), JSON.stringify({ passed, failed, skipped, kernels: results.map((r) => ({ kernel: r.kernel, seconds: r.seconds, files: Object.fromEntries(r.files.map((f) => [f.file, f.seconds])), ran: r.files.flatMap((f) => f.ran) })) }))
console.log(`vm matrix: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed ? 1 : 0)
