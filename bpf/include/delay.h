/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Delay rules (delay.bpf.c): what the BPF side tells the resumer. The TypeScript mirror is in
 * packages/core/src/engine/delay/delay-layout.ts.
 */
#ifndef FAULTLINE_DELAY_H
#define FAULTLINE_DELAY_H

#define FL_DELAY_RING_BYTES (64 * 1024) /* 2048 events of 24 bytes in flight: far more than can stop at once */

/* One stop, sent through fl_delay_events, and the value of fl_delay_stopped. */
struct fl_delay_event {
	__u64 stop_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) when SIGSTOP was sent */
	__u32 tgid;    /* global tgid of the stopped process */
	__u32 vpid;    /* its pid in the arming process's pid namespace: what the resumer kill()s */
	__u32 rule;    /* index of the rule that fired: the resumer knows its delay and jitter */
	__u32 _pad;
};

/* [0] of fl_delay_cfg: who must never be stopped, besides the arming process (fl_state.root_tgid). */
struct fl_delay_cfg {
	__u32 resumer_vpid; /* the resumer process (its pid in the arming process's namespace, as fl_target.vpid):
	                     * stopping it would stop every resume. The resumer writes it when it is ready. */
	__u32 _pad;
};

#endif
