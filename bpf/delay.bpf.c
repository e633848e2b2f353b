// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Syscall latency (`delay:` rules) on every BTF kernel: a tp_btf program at raw_syscalls:sys_exit
 * evaluates the delay rules (op FL_OP_DELAY_BASE + nr) for a targeted process and, when one
 * fires, sends SIGSTOP to the whole process (bpf_send_signal: every thread stops) and tells the
 * resumer, a helper process outside the target set, which sends SIGCONT after the delay.
 *
 * Why sys_exit and not sys_enter: the stop lands on the way back to user space, after the call
 * did its work, so the caller sees the call return late (a slow disk, a slow server). At
 * sys_enter, a blocking call (read on a pipe) interrupted by the stop is restarted by the kernel
 * and would pass sys_enter again, stopping twice; at sys_exit a call that is about to be
 * restarted (-ERESTART*) is skipped, and its restart is the call that counts. The arguments are
 * still in the saved registers at exit, so the path and flags filters work as at the entry.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "include/syscall.h"
#include "include/delay.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SIGSTOP 19
/* Kernel-internal returns of a call that is restarted after the signal (include/linux/errno.h). */
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

/* Stops, to the resumer. Reserved before the stop: a stop the resumer cannot hear of never happens. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FL_DELAY_RING_BYTES);
} fl_delay_events SEC(".maps");

/* tgid -> its latest stop: what is stopped right now. Disarm, and the resumer when the arming
 * process dies, resume every entry; the resumer deletes an entry before it resumes it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct fl_delay_event);
} fl_delay_stopped SEC(".maps");

/* [0] -> fl_delay_cfg, written at arming. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_delay_cfg);
} fl_delay_cfg SEC(".maps");

SEC("tp_btf/sys_exit")
int BPF_PROG(fl_delay_exit, struct pt_regs *regs, long ret)
{
	struct fl_target *t = fl_current_fault_target();
	if (!t || !t->vpid)
		return 0; /* not a target, or one the resumer could not name (another pid namespace) */
	if (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK)
		return 0; /* restarted after the signal: the restart is the call that counts */
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 zero = 0;
	struct fl_state *st = fl_get_state();
	struct fl_delay_cfg *cfg = bpf_map_lookup_elem(&fl_delay_cfg, &zero);
	/* Never without a resumer, nor the arming process (it would freeze the test), nor the
	 * resumer (nothing would resume). */
	if (!st || !cfg || !cfg->resumer_vpid || tgid == st->root_tgid || t->vpid == cfg->resumer_vpid)
		return 0;
	struct fl_call call = {};
	fl_sys_call(&call, (struct pt_regs___fl *)regs, 0, 0);
	if (call.op < FL_OP_SYS_BASE)
		return 0; /* the runner's channel, or no syscall */
	call.op = call.op - FL_OP_SYS_BASE + FL_OP_DELAY_BASE;

	struct fl_eval_ctx ec = {};
	fl_eval_into(&ec, &call, t);
	if (ec.rule < 0)
		return 0;

	/* Built on the stack: 6.1's verifier refuses ring buffer memory as a map value. */
	struct fl_delay_event ev = { .stop_ns = bpf_ktime_get_ns(), .tgid = tgid, .vpid = t->vpid, .rule = ec.rule };
	struct fl_delay_event *e = bpf_ringbuf_reserve(&fl_delay_events, sizeof(*e), 0);
	if (!e)
		return 0;
	*e = ev;
	if (bpf_map_update_elem(&fl_delay_stopped, &tgid, &ev, BPF_ANY) != 0) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	if (bpf_send_signal(SIGSTOP) != 0) {
		bpf_map_delete_elem(&fl_delay_stopped, &tgid);
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
