/**
 * libbpf's tc API (bpf_tc_hook_* / bpf_tc_*): the clsact qdisc and cls_bpf filters in
 * direct-action mode (libbpf always sets it). The structs are encoded here by hand, as libbpf.h
 * lays them out on 64-bit Linux; test/unit/layout.test.ts checks the sizes against the compiler.
 */
import { getNative } from './native.js'

/** enum bpf_tc_attach_point */
export const BPF_TC_INGRESS = 1
export const BPF_TC_EGRESS = 2

/** struct bpf_tc_hook { size_t sz; int ifindex; enum attach_point; __u32 parent; size_t :0 } */
export const TC_HOOK_SIZE = 24
/** struct bpf_tc_opts { size_t sz; int prog_fd; __u32 flags, prog_id, handle, priority; size_t :0 } */
export const TC_OPTS_SIZE = 32

export interface TcFilterId {
  /** u32, unique per hook and priority; 0 lets the kernel pick (we never do). */
  handle: number
  /** 1..65535 (libbpf refuses more): lower runs first. */
  priority: number
}

export function encodeTcHook(ifindex: number, attachPoint: number): Buffer {
  const b = Buffer.alloc(TC_HOOK_SIZE)
  b.writeBigUInt64LE(BigInt(TC_HOOK_SIZE), 0)
  b.writeInt32LE(ifindex, 8)
  b.writeUInt32LE(attachPoint, 12)
  return b
}

export function encodeTcOpts(id: TcFilterId, progFd = 0): Buffer {
  const b = Buffer.alloc(TC_OPTS_SIZE)
  b.writeBigUInt64LE(BigInt(TC_OPTS_SIZE), 0)
  b.writeInt32LE(progFd, 8)
  b.writeUInt32LE(id.handle, 20)
  b.writeUInt32LE(id.priority, 24)
  return b
}

/** Every call returns 0 or -errno, like libbpf. */
export const tc = {
  /** Creates the clsact qdisc of the interface; -EEXIST when one is there already. */
  createClsact: (ifindex: number): number => getNative().lib.bpf_tc_hook_create(encodeTcHook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS)),
  /** Deletes the clsact qdisc and every filter on it (both points: one alone would flush that side's filters). */
  destroyClsact: (ifindex: number): number => getNative().lib.bpf_tc_hook_destroy(encodeTcHook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS)),
  attach: (ifindex: number, attachPoint: number, id: TcFilterId, progFd: number): number =>
    getNative().lib.bpf_tc_attach(encodeTcHook(ifindex, attachPoint), encodeTcOpts(id, progFd)),
  detach: (ifindex: number, attachPoint: number, id: TcFilterId): number =>
    getNative().lib.bpf_tc_detach(encodeTcHook(ifindex, attachPoint), encodeTcOpts(id)),
  /** The id of the program behind a filter, or -errno (-ENOENT: no such filter). */
  query(ifindex: number, attachPoint: number, id: TcFilterId): number {
    const opts = encodeTcOpts(id)
    const r = getNative().lib.bpf_tc_query(encodeTcHook(ifindex, attachPoint), opts)
    return r < 0 ? r : opts.readUInt32LE(16)
  },
}
