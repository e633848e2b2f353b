/** BPF_PROG_RUN (bpf_prog_test_run_opts): runs a loaded program once, without attaching it. */
import { getNative } from './native.js'
import { LibbpfError } from './errors.js'
import type { BpfProgram } from './object.js'

// struct bpf_test_run_opts (libbpf >= 0.7): sz at 0, retval (u32) at 56; 80 bytes in libbpf 1.x.
const OPTS_SIZE = 80
const RETVAL_OFFSET = 56

/**
 * Runs `program` once with no input data and no context (raw_tp, syscall programs; types
 * that need a packet refuse with EINVAL) and returns its return value.
 */
export function testRun(program: BpfProgram): number {
  const opts = Buffer.alloc(OPTS_SIZE)
  opts.writeBigUInt64LE(BigInt(OPTS_SIZE), 0)
  const err = getNative().lib.bpf_prog_test_run_opts(program.fd, opts)
  if (err < 0) throw new LibbpfError(`test run of ${program.section} (${program.name})`, -err)
  return opts.readUInt32LE(RETVAL_OFFSET)
}
