// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Call sites for a census by site (`faultline explore --by site`, include/sites.h): at every
 * syscall entry of a target thread, where the call came from goes into fl_site_now[tid], where
 * the rules (include/rules.h) find it when the call matches one. Attached only for such a census;
 * sys_enter runs before every fault mechanism sees the call (cgroup hooks, LSM hooks, the syscall
 * entry, fexit and sys_exit).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "include/syscall.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* stack id -> up to FL_SITE_DEPTH user return addresses, innermost first (0-padded). */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, FL_SITE_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, FL_SITE_DEPTH * sizeof(__u64));
} fl_site_stacks SEC(".maps");

/* syscall nr -> 1 when a rule of the census names that syscall: only those calls pay for the
 * stack walk and the scan (a call the filter misses has no site and is explored by k). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u32);
} fl_site_syscalls SEC(".maps");

/* Whether `ip` follows a call instruction, i.e. is a return address (the heuristic unwinders use
 * when frame pointers are missing). x86-64: call rel32 (e8), or an indirect call (ff /2) of 2, 3,
 * 6 or 7 bytes; arm64: bl or blr, the 4 bytes before. */
static __always_inline int fl_after_call(__u64 ip)
{
	if (ip < 0x10000 || ip >= 0x800000000000ULL)
		return 0;
	__u8 b[8];
	if (bpf_probe_read_user(b, sizeof(b), (void *)(ip - 8)))
		return 0;
#if defined(__TARGET_ARCH_arm64)
	__u32 insn = b[4] | (b[5] << 8) | (b[6] << 16) | ((__u32)b[7] << 24);
	return (insn & 0xfc000000) == 0x94000000 || (insn & 0xfffffc1f) == 0xd63f0000;
#else
	return b[3] == 0xe8 || (b[6] == 0xff && (b[7] & 0x38) == 0x10) || (b[5] == 0xff && (b[6] & 0x38) == 0x10) ||
	       (b[2] == 0xff && (b[3] & 0x38) == 0x10) || (b[1] == 0xff && (b[2] & 0x38) == 0x10);
#endif
}

struct fl_scan {
	__u64 sp;
	struct fl_site *site;
};

static long fl_scan_word(__u32 i, void *data)
{
	struct fl_scan *s = data;
	__u64 w;
	if (bpf_probe_read_user(&w, sizeof(w), (void *)(s->sp + (__u64)i * 8)))
		return 1; /* past the top of the stack */
	if (!fl_after_call(w))
		return 0;
	__u32 n = s->site->nrets;
	if (n >= FL_SITE_RETS)
		return 1;
	s->site->rets[n & (FL_SITE_RETS - 1)] = w;
	s->site->nrets = n + 1;
	return n + 1 >= FL_SITE_RETS;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fl_site_enter, struct pt_regs *regs, long id)
{
	struct fl_state *st = fl_get_state();
	if (!st || !(st->flags & FL_STATE_SITES))
		return 0;
	if (!fl_current_fault_target())
		return 0;
	__u32 nr = (__u32)id;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *wanted = id >= 0 && id < FL_MAX_SYSCALLS ? bpf_map_lookup_elem(&fl_site_syscalls, &nr) : 0;
	/* Written in place: an update of this no-prealloc hash would allocate on every syscall. */
	struct fl_site *site = bpf_map_lookup_elem(&fl_site_now, &tid);
	if (!wanted || !*wanted) {
		/* Not a syscall a rule names, but a hook may still match it (a sendto rule's cgroup
		 * hook sees write() on a UDP socket): its site is unknown, never the previous call's. */
		if (site) {
			site->stack = -1;
			site->nrets = 0;
		}
		return 0;
	}
	if (!site) {
		struct fl_site fresh = {};
		bpf_map_update_elem(&fl_site_now, &tid, &fresh, BPF_NOEXIST);
		site = bpf_map_lookup_elem(&fl_site_now, &tid);
		if (!site)
			return 0; /* a full map: this thread's calls have no site, and are explored by k */
	}
	/* A negative id (a full map, or a hash collision: no BPF_F_REUSE_STACKID) is kept as is:
	 * user space then tells the site by the scan alone. */
	site->stack = bpf_get_stackid(ctx, &fl_site_stacks, BPF_F_USER_STACK);
	site->nrets = 0;
	struct fl_scan scan = { .sp = BPF_CORE_READ((struct pt_regs___fl *)regs, sp), .site = site };
	bpf_loop(FL_SITE_SCAN_WORDS, fl_scan_word, &scan, 0);
	bpf_get_current_comm(site->comm, sizeof(site->comm));
	return 0;
}
