/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps shared by the faultline objects. Every object that includes this header declares the
 * same maps; user space loads process.bpf.o first and hands its map fds to the other objects
 * (bpf_map__reuse_fd), so all programs of one faultline instance read one set of maps.
 */
#ifndef FAULTLINE_MAPS_H
#define FAULTLINE_MAPS_H

#include "faultline.h"
#include "sites.h"

/* tgid -> fl_target: the processes of the armed tree. Written by the process tracker and by
 * user space at arming (the caller and its existing descendants); cleared at disarm. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct fl_target);
} fl_targets SEC(".maps");

/* [0] -> fl_state: when we armed, scope flags, how many rules are live. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_state);
} fl_state SEC(".maps");

/* rule index -> fl_rule. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fl_rule);
} fl_rules SEC(".maps");

/* rule index -> fl_counters, read back by faults.stats(). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fl_counters);
} fl_counters SEC(".maps");

/* comm (NUL-padded to 16 bytes) -> a bit of its own: the comm filter. A target's comm_bits is
 * the value of its comm; a rule's comm_mask says which comms it applies to (Minderbinder rules
 * each name their own processes). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_COMMS);
	__type(key, char[FL_COMM_LEN]);
	__type(value, __u32);
} fl_comms SEC(".maps");

/* rule index -> the glob of its FL_MATCH_PATH filter. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fl_glob);
} fl_globs SEC(".maps");

/* syscall nr -> where its path and flags arguments are. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct fl_sysinfo);
} fl_sysinfo SEC(".maps");

/* [0] -> this CPU's scratch path buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_scratch);
} fl_scratch SEC(".maps");

/* thread id -> the call site of its syscall in progress, as sites.bpf.c saw it at sys_enter. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_SITE_THREADS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct fl_site);
} fl_site_now SEC(".maps");

/* (rule, nth) -> the call site of that eligible call, logged while FL_STATE_SITES is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_SITE_CALLS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fl_site_key);
	__type(value, struct fl_site);
} fl_site_log SEC(".maps");

static __always_inline struct fl_state *fl_get_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&fl_state, &zero);
}

/* The target entry of the current process when its calls may be failed, else NULL.
 * This is the whole cost for an untargeted process: one hash lookup. */
static __always_inline struct fl_target *fl_current_fault_target(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct fl_target *t = bpf_map_lookup_elem(&fl_targets, &tgid);
	if (!t || !(t->flags & FL_TARGET_FAULT))
		return 0;
	/* Safeguard: faultline's own thread, while it works on the maps, is never failed. */
	struct fl_state *st = fl_get_state();
	if (st && st->exempt_tid && st->exempt_tid == (__u32)id)
		return 0;
	return t;
}

#endif /* FAULTLINE_MAPS_H */
