/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test-only (built by bpf/Makefile into test/fixtures/bin/, never shipped): runs the glob
 * matcher of match.path / match.fd (include/glob.h) on a (glob, path) pair that user space
 * writes into fl_glob_case, through BPF_PROG_RUN. test/integration/glob.test.ts compares its
 * answers with picomatch's. raw_tp because its test_run needs no packet and no sleepable
 * support: it runs on every kernel we support.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../include/glob.h"

/* One case: the glob, and the scratch whose path is matched against it (the matcher keeps its
 * state there too, as it does in the real programs' per-CPU fl_scratch). */
struct fl_glob_case {
	char pattern[FL_GLOB_LEN];
	struct fl_scratch s;
};

/* key 0 -> the case to run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_glob_case);
} fl_glob_case SEC(".maps");

/* Returns 1 (match), 0 (no match), 2 (the matcher ran out of steps), 3 (no case). */
SEC("raw_tp")
int fl_glob_test(void *ctx)
{
	__u32 zero = 0;
	struct fl_glob_case *c = bpf_map_lookup_elem(&fl_glob_case, &zero);
	if (!c)
		return 3;
	int m = fl_glob_match(c->pattern, &c->s);
	if (c->s.result < 0)
		return 2;
	return m;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
