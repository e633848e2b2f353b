/**
 * The delay family: the rules of config.syscalls with `delay`, through its one route, `send-signal`: delay.bpf.o's tp_btf program at
 * raw_syscalls:sys_exit stops a target that made a matching call (SIGSTOP to the whole process)
 * and the resumer (delay-resumer.ts), a helper process started at prepare, sends SIGCONT
 * after the delay. The resumer is never a target: it is taken out of the target set right after
 * the kernel's walk of the caller's descendants (which finds it) and before any fault attaches,
 * and the BPF side never stops it. Disarm kills it and resumes whatever is still stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import createDebug from 'debug'
import { attachTracepoint, type BpfObject } from '../../libbpf/index.js'
import { packageRoot } from '../../paths.js'
import { sleepSync } from '../../sleep-sync.js'
import { FaultlineUnsupportedError } from '../errors.js'
import type { Instance } from '../instance.js'
import { decodeTargetVpid, u32Key } from '../shared-layout.js'
import { decodeDelayEvent, encodeDelayCfg, type DelaySpec } from './delay-layout.js'
import type { FaultBackend, PlannedRule } from '../syscall-rules/backend.js'
import { syscallRuleFamily } from '../syscall-rules/syscall-rule-family.js'

const debug = createDebug('faultline:delay')

/** How long the resumer may take to start (Node + libbpf; a loaded VM under TCG takes seconds). */
const READY_TIMEOUT_MS = 60_000

let resumer: ChildProcess | undefined

const objectOf = (inst: Instance): BpfObject => inst.fault('delay')

/** The resumer's state letter in /proc ('Z' once it exited), or undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  } catch {
    return undefined
  }
}
const exited = (pid: number) => {
  const s = procState(pid)
  return s === undefined || s === 'Z' || s === 'X'
}

function startResumer(inst: Instance, rules: PlannedRule[]): ChildProcess {
  const obj = objectOf(inst)
  const cfg = obj.map('fl_delay_cfg')
  cfg.update(u32Key(0), encodeDelayCfg(0))
  const spec: DelaySpec = []
  for (const p of rules) spec[p.index] = [p.rule.delay!.ms * 1e6, p.rule.delay!.jitterMs * 1e6]
  const script = path.join(packageRoot(), 'dist', 'engine', 'delay', 'delay-resumer.js')
  if (!fs.existsSync(script)) throw new Error(`faultline: ${script} is missing (run npm run build in a checkout)`)
  const child = spawn(process.execPath, [script, JSON.stringify(Array.from(spec, (s) => s ?? null))], {
    stdio: ['pipe', 'ignore', 'pipe', obj.map('fl_delay_events').fd, obj.map('fl_delay_stopped').fd, cfg.fd],
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000)
    debug('resumer: %s', d.toString().trimEnd())
  })
  // Neither the resumer nor its pipes keep the test's event loop alive.
  child.unref()
  ;(child.stdin as unknown as { unref?(): void }).unref?.()
  ;(child.stderr as unknown as { unref?(): void }).unref?.()
  child.stdin!.on('error', () => {})
  const pid = child.pid
  if (pid === undefined) throw new FaultlineUnsupportedError(`cannot start the delay resumer (${process.execPath})`)
  const t0 = performance.now()
  for (;;) {
    const v = cfg.lookup(u32Key(0))
    if (v && v.readUInt32LE(0) === pid) break
    if (exited(pid) || performance.now() - t0 > READY_TIMEOUT_MS) {
      child.kill('SIGKILL')
      throw new FaultlineUnsupportedError(`the delay resumer (pid ${pid}) did not start: ${stderr.trim() || (exited(pid) ? 'it exited' : `not ready after ${READY_TIMEOUT_MS} ms`)}`)
    }
    sleepSync(2)
  }
  debug('resumer %d ready in %s ms', pid, (performance.now() - t0).toFixed(1))
  return child
}

/** Takes the resumer out of the target set (the seeding walk found it: it is the caller's child). */
function untarget(inst: Instance, pid: number): void {
  for (const k of inst.maps.fl_targets.keys()) {
    const v = inst.maps.fl_targets.lookup(k)
    if (v && decodeTargetVpid(v) === pid) inst.maps.fl_targets.delete(k)
  }
}

/** Kills the resumer and resumes every process still stopped. Links are gone: nothing stops any more. */
function stopResumer(inst: Instance): void {
  const child = resumer
  resumer = undefined
  if (child?.pid !== undefined) {
    child.kill('SIGKILL')
    const t0 = performance.now()
    while (!exited(child.pid) && performance.now() - t0 < 5000) sleepSync(1)
  }
  const obj = objectOf(inst)
  const stopped = obj.map('fl_delay_stopped')
  let resumed = 0
  for (const k of stopped.keys()) {
    const v = stopped.lookup(k)
    stopped.delete(k)
    if (!v) continue
    try {
      process.kill(decodeDelayEvent(v).vpid, 'SIGCONT')
      resumed++
    } catch {
      /* exited meanwhile */
    }
  }
  obj.map('fl_delay_cfg').update(u32Key(0), encodeDelayCfg(0))
  debug('resumer stopped; %d process(es) resumed at disarm', resumed)
}

const delayBackend: FaultBackend = {
  mechanism: 'send-signal',
  prepare(inst, rules) {
    objectOf(inst)
    if (resumer) stopResumer(inst)
    resumer = startResumer(inst, rules)
  },
  attach(inst, _rules, tx) {
    const obj = objectOf(inst)
    tx.step('take the delay resumer out of the target set', () => untarget(inst, resumer!.pid!))
    tx.attach('tp_btf/sys_exit (delay)', () => attachTracepoint(obj.program('fl_delay_exit')))
  },
  clear(inst) {
    try {
      if (resumer) stopResumer(inst)
    } catch (err) {
      debug('clearing the delay rules: %s', (err as Error).message)
    }
  },
}

export const delayFamily = syscallRuleFamily('delay', 'delay', [delayBackend])
