/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What an iter/tcp program reads (CO-RE, relocated against the running kernel's BTF) and the
 * bpf_sock_destroy kfunc (Linux >= 6.5, iter/tcp and iter/udp programs only). The kfunc is
 * __weak: an object that declares it still loads where it is missing, as long as no program
 * that calls it is loaded (reset.bpf.c is refused there; probe.bpf.c loads its probe alone).
 */
#ifndef FAULTLINE_SOCK_ITER_H
#define FAULTLINE_SOCK_ITER_H

#include <linux/in6.h>
#include "vmlinux_min.h"

/* The fields of struct sock_common faultline reads; in the kernel some sit in anonymous
 * unions, which CO-RE looks through. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num; /* the local port, host order */
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

/* Sequence numbers: rcv_nxt - copied_seq is what arrived and the application has not read yet. */
struct tcp_sock {
	__u32 rcv_nxt;
	__u32 copied_seq;
} __attribute__((preserve_access_index));

/* Context of an iter/tcp program: once per socket of the reader's network namespace (listeners,
 * established, request and time-wait sockets), then once with sk_common == NULL. */
struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
	unsigned int uid;
} __attribute__((preserve_access_index));

/* Aborts the socket as `ss -K` does: the owner's next call fails with ECONNABORTED (the
 * pending error), and an established connection sends its peer a RST. */
extern int bpf_sock_destroy(struct sock_common *sk) __weak __ksym;

#define FL_TCP_ESTABLISHED 1
#define FL_TCP_CLOSE 7
#define FL_TCP_LISTEN 10

#endif
