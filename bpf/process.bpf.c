// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Process tracking: keeps fl_targets equal to the armed process tree.
 *   fork -> a child of a tracked process is tracked too (its FAULT flag follows the comm filter)
 *   exec -> the comm filter is evaluated again; with scope 'system' a matching exec joins
 *   exit -> the entry goes when the last thread of the group exits (no stale pids, no reuse)
 *   seed -> at arming, one pass over every task in the kernel adds the processes that exist
 *           already (the caller's descendants, or comm matches for scope 'system')
 * The tracepoints are attached per window (between armings only when links are kept, an opt-in:
 * engine/kept-links.ts); while nothing is armed fl_state is zero (armed_ns 0) and fl_targets
 * empty, and each returns after one lookup.
 * The iterator runs only when read.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "include/vmlinux_min.h"
#include "include/maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* [0] -> how many processes the tracepoints added to fl_targets since user space last zeroed it
 * (at arming). When it stays 0, disarm deletes the seeded entries it knows instead of walking
 * every bucket of fl_targets (~0.1 ms). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fl_track_adds SEC(".maps");

static __always_inline void count_add(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&fl_track_adds, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The comm filter's bits for `comm`: 0 when it is not in the filter. */
static __always_inline __u32 comm_bits(const char comm[FL_COMM_LEN])
{
	__u32 *bits = bpf_map_lookup_elem(&fl_comms, comm);
	return bits ? *bits : 0;
}

#define FL_MAX_PIDNS_LEVEL 32 /* MAX_PID_NS_LEVEL */

/* The pid of `task` in the arming process's pid namespace (fl_state.pidns_*), or 0 when the task
 * is not visible there (another container's process). A process's namespace chain runs from the
 * initial namespace (numbers[0], the global pid) down to its own (numbers[level]). */
static __always_inline __u32 fl_vpid(struct task_struct *task, const struct fl_state *st)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	__u32 want = st->pidns_level;
	if (!pid || want >= FL_MAX_PIDNS_LEVEL || BPF_CORE_READ(pid, level) < want)
		return 0;
	struct upid up = {};
	if (bpf_core_read(&up, sizeof(up), &pid->numbers[want]))
		return 0;
	if (!up.ns || BPF_CORE_READ(up.ns, ns.inum) != st->pidns_ino)
		return 0;
	return up.nr;
}

/* FL_TARGET_FAULT when calls of a process with these comm bits may be failed. */
static __always_inline __u32 fault_flag(const struct fl_state *st, __u32 bits)
{
	return (!(st->flags & FL_STATE_COMM_FILTER) || bits) ? FL_TARGET_FAULT : 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fl_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid)
		return 0; /* a new thread: its process is already tracked (or not) */
	struct fl_target *p = bpf_map_lookup_elem(&fl_targets, &ptgid);
	if (!p || !(p->flags & FL_TARGET_TRACK))
		return 0;
	struct fl_state *st = fl_get_state();
	if (!st || !st->armed_ns)
		return 0; /* disarmed: a fork racing the clear of fl_targets adds nothing */
	/* A forked child carries its parent's comm until it execs. */
	struct fl_target t = {
		.flags = FL_TARGET_TRACK | fault_flag(st, p->comm_bits),
		.comm_bits = p->comm_bits,
		.exec_ns = p->exec_ns,
		.vpid = fl_vpid(child, st),
	};
	count_add();
	bpf_map_update_elem(&fl_targets, &ctgid, &t, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fl_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct fl_state *st = fl_get_state();
	if (!st || !st->armed_ns)
		return 0;
	char comm[FL_COMM_LEN] = {};
	BPF_CORE_READ_STR_INTO(&comm, p, comm);
	__u32 bits = comm_bits(comm);
	struct fl_target *t = bpf_map_lookup_elem(&fl_targets, &tgid);
	__u32 vpid = fl_vpid(p, st);
	if (!t) {
		/* scope 'system' means the arming process's pid namespace: from inside a container,
		 * never a process of the host or of another container */
		if ((st->flags & FL_STATE_SYSTEM) && bits && vpid) {
			struct fl_target nt = { .flags = FL_TARGET_TRACK | FL_TARGET_FAULT,
						.comm_bits = bits, .exec_ns = bpf_ktime_get_ns(), .vpid = vpid };
			count_add();
			bpf_map_update_elem(&fl_targets, &tgid, &nt, BPF_ANY);
		}
		return 0;
	}
	if ((st->flags & FL_STATE_EXCLUDE_ROOT) && tgid == st->root_tgid)
		return 0;
	struct fl_target nt = { .flags = FL_TARGET_TRACK | fault_flag(st, bits), .comm_bits = bits,
				.exec_ns = bpf_ktime_get_ns(), .vpid = vpid };
	bpf_map_update_elem(&fl_targets, &tgid, &nt, BPF_EXIST);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fl_exit, struct task_struct *p)
{
	/* sched_process_exit fires for every thread, after the group's live count dropped. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	__u32 tgid = BPF_CORE_READ(p, tgid);
	bpf_map_delete_elem(&fl_targets, &tgid);
	return 0;
}

#define FL_MAX_DEPTH 64 /* ancestors checked per task when seeding */

static __always_inline int descends_from(struct task_struct *task, __u32 root)
{
	struct task_struct *p = task;
	for (int i = 0; i < FL_MAX_DEPTH; i++) {
		p = BPF_CORE_READ(p, real_parent);
		if (!p)
			return 0;
		__u32 tgid = BPF_CORE_READ(p, tgid);
		if (tgid == root)
			return 1;
		if (tgid <= 1)
			return 0; /* reached init (or the idle task) */
	}
	return 0;
}

/* Seeding at arming: replaces a walk of /proc (about 1 ms per 100 processes from Node) by one
 * read() of this iterator. User space has written fl_state and attached fl_fork first, so a
 * process forked during the pass is caught by one of the two; it reads the iterator twice to
 * cover a child whose pid wrapped below its parent's. */
SEC("iter/task")
int fl_seed(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	if (!task)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (BPF_CORE_READ(task, pid) != tgid)
		return 0; /* one visit per process: its main thread */
	struct fl_state *st = fl_get_state();
	if (!st)
		return 0;
	/* Most tasks are neither the caller nor its descendants: decide that before reading the comm. */
	if (!(st->flags & FL_STATE_SYSTEM) && tgid != st->root_tgid && !descends_from(task, st->root_tgid))
		return 0;
	char comm[FL_COMM_LEN] = {};
	BPF_CORE_READ_STR_INTO(&comm, task, comm);
	__u32 bits = comm_bits(comm);
	__u32 flags;
	if (st->flags & FL_STATE_SYSTEM) {
		if (!bits)
			return 0;
		flags = FL_TARGET_TRACK | FL_TARGET_FAULT;
	} else if (tgid == st->root_tgid) {
		flags = FL_TARGET_TRACK;
		if (!(st->flags & FL_STATE_EXCLUDE_ROOT))
			flags |= fault_flag(st, bits);
	} else {
		flags = FL_TARGET_TRACK | fault_flag(st, bits); /* a descendant (checked above) */
	}
	struct fl_target t = { .flags = flags, .comm_bits = bits, .exec_ns = st->armed_ns, .vpid = fl_vpid(task, st) };
	/* Prints the key and the pid (in the arming process's namespace; 0: not visible there) of
	 * each process it adds, so user space learns the seeded targets without a walk of fl_targets. */
	if (!bpf_map_update_elem(&fl_targets, &tgid, &t, BPF_NOEXIST)) {
		__u32 out[2] = { tgid, t.vpid };
		bpf_seq_write(ctx->meta->seq, out, sizeof(out));
	}
	return 0;
}

/* Who is reading: prints one fl_whoami for the thread that reads this iterator, then stops
 * looking. User space reads it once per process, before anything is written to fl_state, so
 * every pid faultline hands the kernel is the kernel's own (global) number, in any container. */
SEC("iter/task")
int fl_whoami(struct bpf_iter__task *ctx)
{
	if (!ctx->task || ctx->meta->seq_num != 0)
		return 0;
	struct task_struct *me = (struct task_struct *)bpf_get_current_task();
	struct pid *pid = BPF_CORE_READ(me, thread_pid);
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_whoami w = { .tgid = id >> 32, .tid = (__u32)id };
	__u32 level = BPF_CORE_READ(pid, level);
	w.pidns_level = level;
	if (level < FL_MAX_PIDNS_LEVEL) {
		struct upid up = {};
		/* a local index: inside bpf_core_read every access is relocated against kernel BTF */
		bpf_core_read(&up, sizeof(up), &pid->numbers[level]);
		w.pidns_ino = BPF_CORE_READ(up.ns, ns.inum);
		/* the thread's own number in its namespace; for the main thread, process.pid */
		w.ns_tgid = up.nr;
	}
	bpf_seq_write(ctx->meta->seq, &w, sizeof(w));
	return 0;
}
