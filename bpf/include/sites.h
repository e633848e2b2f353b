/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Call sites, for `faultline explore --by site`: while a census records sites (FL_STATE_SITES),
 * sites.bpf.c stores the user stack of each target thread's syscall at sys_enter (fl_site_now),
 * and rules.h logs, for every eligible call a rule matches, which stack it came from
 * (fl_site_log). User space then fails only the first call of each distinct stack instead of
 * every k. Both maps are shared (maps.h) and allocated on use: outside a census they stay empty.
 * The TypeScript mirror is packages/core/src/engine/call-sites/site-layout.ts.
 */
#ifndef FAULTLINE_SITES_H
#define FAULTLINE_SITES_H

#define FL_MAX_SITE_THREADS 4096 /* threads whose current stack is kept at once */
#define FL_MAX_SITE_CALLS 8192   /* eligible calls logged per census, all rules together */
#define FL_SITE_STACKS 1024      /* distinct user stacks per census */
#define FL_SITE_DEPTH 32         /* frames kept per stack */
#define FL_SITE_SCAN_WORDS 128   /* words of the user stack scanned for return addresses */
#define FL_SITE_RETS 8           /* return addresses the scan keeps (a power of 2): stale words in the
                                  * wrapper's frame come first, and must not crowd out the callers */

/* fl_site_log key: the rule and the call's 1-based eligible index (what `when: { nth }` counts). */
struct fl_site_key {
	__u32 rule;
	__u32 nth;
};

/* Where a call came from, two ways: the stack the kernel unwinds by frame pointers, which libc's
 * syscall wrappers break or shorten (built without them, they skip or garble their caller's
 * frame), and the first return addresses found by scanning the user stack from its top (words
 * right after a call instruction), which name the wrapper's callers. A site is both together. */
struct fl_site {
	__s32 stack;               /* id in fl_site_stacks; negative when the kernel could not take it */
	__u32 nrets;               /* rets[0, nrets) are set */
	__u64 rets[FL_SITE_RETS];  /* innermost first */
	char comm[16];             /* the calling process's comm: an interpreter's stack is not its script's */
};

#endif /* FAULTLINE_SITES_H */
