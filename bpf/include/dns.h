/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS fault structs, shared by the TC programs (dns_fault.h, in net.bpf.c) and user space
 * (packages/core/src/engine/dns/dns-layout.ts; sizes checked by test/unit/layout.test.ts).
 */
#ifndef FAULTLINE_DNS_H
#define FAULTLINE_DNS_H

#define FL_MAX_DNS_RULES 16
/* A name as text with its NUL (253 characters at most), and a glob of the same size; a power
 * of two, so an index masked with FL_DNS_NAME_LEN - 1 stays inside. */
#define FL_DNS_NAME_LEN 256

enum fl_dns_answer { FL_DNS_NXDOMAIN = 1, FL_DNS_SERVFAIL = 2, FL_DNS_TIMEOUT = 3 };

/* fl_dns_rule.flags */
#define FL_DNS_SEEDED 1u

/* One rule: queries whose question name matches `name` get `answer`. */
struct fl_dns_rule {
	char name[FL_DNS_NAME_LEN]; /* glob, lower case, no trailing dot: '*' any run of characters (dots too), '?' one */
	__u32 answer;    /* enum fl_dns_answer */
	__u32 prob;      /* FL_PROB_ALWAYS or threshold */
	__u32 times;     /* 0 = unlimited */
	__u32 flags;     /* FL_DNS_* */
	__u64 after_ns;
	__u64 seed;
	__u32 comm_mask; /* 0 = any target; else only sockets marked by a process whose comm bits intersect it */
	__u32 _pad;
};

struct fl_dns_state {
	__u64 armed_ns;
	__u32 n_rules; /* 0 = no DNS rule armed: the TC programs skip DNS parsing */
	__u32 _pad;
};

#endif
