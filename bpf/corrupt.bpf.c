// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Corrupted reads: a syscall rule with `corrupt: { bytes, seed }` on read / pread64 / readv
 * flips `bytes` bytes of what the call read, after it read them, in the caller's buffer.
 *
 *   fentry/security_file_permission  (MAY_READ, a target's thread) resolves the file's path
 *       with bpf_d_path (allowed there, not in the read path) and keeps it per thread;
 *   fexit/__x64_sys_{read,pread64,readv}  (the attach target is set by user space) takes that
 *       path when it belongs to the file of the call's fd, evaluates the rules (rules.h), and
 *       for the rule that fired XORs the chosen bytes with bpf_probe_write_user.
 *
 * Which bytes: the call's data (ret bytes; readv: what its first FL_CORRUPT_MAX_IOVS iovecs
 * hold) is cut into `bytes` equal segments and one byte of each is flipped; a call that read
 * `bytes` bytes or fewer has every byte flipped. Draw k of the rule's firing number f is
 * splitmix64(seed, f * bytes + k): its high 32 bits pick the offset in the segment, its low
 * byte the XOR value (0 becomes 0xff, so the byte always changes). predictCorruption() in
 * packages/core/src/engine/corrupt.ts computes the same.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "include/syscall.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FL_CORRUPT_MAX_BYTES 64 /* corrupt.bytes limit (config/validate.ts checks it) */
#define FL_CORRUPT_MAX_IOVS 8   /* readv: the iovecs whose data can be corrupted */
#define FL_MAY_READ 4           /* MAY_READ, the mask of security_file_permission for reads */

/* A corrupt rule's parameters, by rule index (fl_rules). Written by user space at arming. */
struct fl_corrupt {
	__u32 bytes; /* bytes flipped per corrupted call, 1..FL_CORRUPT_MAX_BYTES */
	__u32 _pad;
	__u64 seed;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fl_corrupt);
} fl_corrupt SEC(".maps");

/* The path of the file a thread is about to read, from its security_file_permission check. */
struct fl_read_path {
	struct file *file; /* compared with the file behind the call's fd at exit */
	char path[FL_PATH_LEN];
};

/* thread id -> fl_read_path; taken (deleted) at the syscall's exit. LRU: an entry left by a
 * read-side check that is not a read call (sendfile, splice) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct fl_read_path);
} fl_read_paths SEC(".maps");

/* [0] -> this CPU's staging buffer for one fl_read_path (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_read_path);
} fl_read_stage SEC(".maps");

SEC("fentry/security_file_permission")
int BPF_PROG(fl_corrupt_path, struct file *file, int mask)
{
	if (!(mask & FL_MAY_READ) || !fl_current_fault_target())
		return 0;
	struct fl_state *st = fl_get_state();
	if (!st || !(st->flags & FL_STATE_NEED_PATH))
		return 0;
	__u32 zero = 0;
	struct fl_read_path *stage = bpf_map_lookup_elem(&fl_read_stage, &zero);
	if (!stage)
		return 0;
	if (bpf_d_path(&file->f_path, stage->path, sizeof(stage->path)) <= 0)
		return 0;
	stage->file = file;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&fl_read_paths, &tid, stage, BPF_ANY);
	return 0;
}

/* Where the call's data is: up to FL_CORRUPT_MAX_IOVS user buffers, and what to flip. */
struct fl_flip_ctx {
	__u64 base[FL_CORRUPT_MAX_IOVS];
	__u64 len[FL_CORRUPT_MAX_IOVS]; /* bytes of data in each buffer */
	__u64 total;                    /* sum of len */
	__u64 seed;
	__u64 first_draw; /* firing number * bytes */
	__u32 bytes;
	__u32 n;
};

static long fl_flip_one(__u32 k, void *data)
{
	struct fl_flip_ctx *fc = data;
	__u64 z = fl_splitmix64(fc->seed, fc->first_draw + k);
	__u64 off;
	if (fc->total <= fc->bytes) {
		if (k >= fc->total)
			return 1;
		off = k;
	} else {
		__u64 seg = fc->total / fc->bytes;
		__u64 span = k + 1 == fc->bytes ? fc->total - k * seg : seg;
		off = k * seg + (z >> 32) % span;
	}
	__u8 x = z & 0xff;
	if (!x)
		x = 0xff;
	for (__u32 i = 0; i < FL_CORRUPT_MAX_IOVS; i++) {
		if (i >= fc->n)
			return 1;
		if (off < fc->len[i]) {
			void *at = (void *)(fc->base[i] + off);
			__u8 b = 0;
			if (bpf_probe_read_user(&b, 1, at))
				return 0;
			b ^= x;
			bpf_probe_write_user(at, &b, 1);
			return 0;
		}
		off -= fc->len[i];
	}
	return 0;
}

struct fl_iovec {
	__u64 base;
	__u64 len;
};

static __always_inline int fl_corrupt_call(unsigned long long *ctx, int vec)
{
	struct pt_regs___fl *regs = (struct pt_regs___fl *)ctx[0];
	long ret = (long)ctx[1];
	if (ret <= 0)
		return 0; /* nothing read */
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 0;
	__u32 zero = 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	int have_path = 0;
	struct fl_read_path *rp = bpf_map_lookup_elem(&fl_read_paths, &tid);
	if (rp) {
		struct fl_scratch *s = bpf_map_lookup_elem(&fl_scratch, &zero);
		if (s && rp->file == fl_fd_file(fl_arg(regs, 0)))
			have_path = bpf_probe_read_kernel(s->path, sizeof(s->path), rp->path) == 0;
		bpf_map_delete_elem(&fl_read_paths, &tid);
	}
	struct fl_call call = {};
	fl_sys_call(&call, regs, have_path, 0);
	if (call.op < FL_OP_SYS_BASE)
		return 0; /* the runner's channel, or no syscall */
	call.op = call.op - FL_OP_SYS_BASE + FL_OP_CORRUPT_BASE;
	struct fl_eval_ctx ec = {};
	fl_eval_into(&ec, &call, t);
	if (ec.rule < 0)
		return 0;
	__u32 key = ec.rule;
	struct fl_corrupt *c = bpf_map_lookup_elem(&fl_corrupt, &key);
	if (!c || !c->bytes)
		return 0;

	struct fl_flip_ctx fc = {};
	fc.seed = c->seed;
	fc.bytes = c->bytes > FL_CORRUPT_MAX_BYTES ? FL_CORRUPT_MAX_BYTES : c->bytes;
	fc.first_draw = ec.fired_index * fc.bytes;
	if (!vec) {
		fc.n = 1;
		fc.base[0] = fl_arg(regs, 1);
		fc.len[0] = ret;
		fc.total = ret;
	} else {
		__u64 iov = fl_arg(regs, 1);
		__u64 cnt = fl_arg(regs, 2);
		__u64 left = ret;
		for (__u32 i = 0; i < FL_CORRUPT_MAX_IOVS; i++) {
			struct fl_iovec v = {};
			if (i >= cnt || !left || bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))))
				break;
			__u64 l = v.len < left ? v.len : left;
			fc.base[i] = v.base;
			fc.len[i] = l;
			fc.total += l;
			left -= l;
			fc.n = i + 1;
		}
	}
	bpf_loop(fc.bytes, fl_flip_one, &fc, 0);
	return 0;
}

/* The attach targets (__x64_sys_read / __arm64_sys_read, ...) are set before load. ctx[0] is
 * the syscall's saved user registers, ctx[1] its return value. */
SEC("fexit")
int fl_corrupt_read(unsigned long long *ctx) { return fl_corrupt_call(ctx, 0); }

SEC("fexit")
int fl_corrupt_pread64(unsigned long long *ctx) { return fl_corrupt_call(ctx, 0); }

SEC("fexit")
int fl_corrupt_readv(unsigned long long *ctx) { return fl_corrupt_call(ctx, 1); }
