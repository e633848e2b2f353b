// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Connection resets: an iter/tcp program that destroys (bpf_sock_destroy, Linux >= 6.5) the
 * targets' TCP connections a reset rule is due for. faultline's process reads the iterator when
 * the TC programs condemned a socket (bytes.h: after_bytes reached) and when a rule's
 * `when.after` passes, so an idle connection is reset at that time too. It reuses net.bpf.c's
 * maps (the socket marks, rules, counters, host tries) and bytes.h's.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/sock_iter.h"
#include "include/maps.h" /* every object carries the shared maps (engine/instance.ts reuses them) */
#include "include/net_maps.h" /* net.bpf.o's, reused */
#include "include/bytes.h"
#include "include/flows.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One socket, as the rules see it. */
struct fl_reset_sock {
	struct fl_net_lpm_key peer; /* prefixlen, rule filled per rule */
	__u16 peer_port;
	__u32 comm_bits;
	__u64 rx, tx, elapsed;
	__u64 armed_ns;
	struct fl_net_flow_key flow; /* for `when.nth`: the TC programs indexed it (flows.h) */
	__s32 due; /* the first reset rule due, -1 */
};

static long fl_reset_rule_step(__u32 i, void *data)
{
	struct fl_reset_sock *s = data;
	__u32 key = i;
	struct fl_net_rule *r = bpf_map_lookup_elem(&fl_net_rules, &key);
	struct fl_counters *c = bpf_map_lookup_elem(&fl_net_counters, &key);
	if (!r || !c || r->action != FL_NET_RESET)
		return 0;
	if (r->comm_mask && !(r->comm_mask & s->comm_bits))
		return 0;
	if (r->nports) {
		int found = 0;
		for (int j = 0; j < FL_NET_MAX_PORTS; j++)
			if (j < r->nports && r->ports[j] == s->peer_port)
				found = 1;
		if (!found)
			return 0;
	}
	s->peer.rule = i;
	if ((r->flags & FL_NET_HOSTS) && !bpf_map_lookup_elem(&fl_net_hosts, &s->peer))
		return 0;
	if ((r->flags & FL_NET_ALLOW) && bpf_map_lookup_elem(&fl_net_allow, &s->peer))
		return 0;
	/* nth: only the connection the TC programs counted as the rule's nth flow (one that sent
	 * nothing since `when.after` has no index yet: its next packet decides). */
	if (r->nth && fl_flow_known(i, &s->flow, s->armed_ns) + 1 != r->nth)
		return 0;
	if (!fl_reset_due(i, r, c, s->rx, s->tx, s->elapsed))
		return 0;
	s->due = i;
	return 1;
}

/* The host-trie key of a peer address (the rule index is filled per rule). */
static __always_inline void peer_key(struct fl_net_lpm_key *k, __u8 family, const void *addr)
{
	k->family = family;
	k->prefixlen = 32 + (family == 2 ? 32 : 128);
	__builtin_memcpy(k->addr, addr, family == 2 ? 4 : 16);
}

/* The first reset rule due for this socket by its peer and counts, -1 if none. */
static __always_inline __s32 due_by_time(struct sock_common *skc, __u32 bits, struct fl_sock_bytes *sb)
{
	__u32 zero = 0;
	struct fl_net_state *ns = bpf_map_lookup_elem(&fl_net_state, &zero);
	if (!ns || !ns->n_rules)
		return -1;
	struct fl_reset_sock s = { .comm_bits = bits, .due = -1 };
	s.peer_port = bpf_ntohs(skc->skc_dport);
	unsigned short family = skc->skc_family;
	__u16 lport = bpf_htons(skc->skc_num), rport = skc->skc_dport;
	__u32 local[4] = {}, remote[4] = {};
	if (family == 2) {
		__be32 a = skc->skc_daddr;
		peer_key(&s.peer, 2, &a);
		local[0] = skc->skc_rcv_saddr;
		remote[0] = a;
		fl_flow_key(&s.flow, 6, 2, local, lport, remote, rport);
	} else if (family == 10) {
		__u32 a[4], l[4];
		a[0] = skc->skc_v6_daddr.in6_u.u6_addr32[0];
		a[1] = skc->skc_v6_daddr.in6_u.u6_addr32[1];
		a[2] = skc->skc_v6_daddr.in6_u.u6_addr32[2];
		a[3] = skc->skc_v6_daddr.in6_u.u6_addr32[3];
		l[0] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[0];
		l[1] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[1];
		l[2] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[2];
		l[3] = skc->skc_v6_rcv_saddr.in6_u.u6_addr32[3];
		/* v4-mapped: the packets, and so the rules' host keys and flows, are IPv4 */
		if (!a[0] && !a[1] && a[2] == bpf_htonl(0xffff)) {
			peer_key(&s.peer, 2, &a[3]);
			local[0] = l[3];
			remote[0] = a[3];
			fl_flow_key(&s.flow, 6, 2, local, lport, remote, rport);
		} else {
			peer_key(&s.peer, 10, a);
			fl_flow_key(&s.flow, 6, 10, l, lport, a, rport);
		}
	} else {
		return -1;
	}
	s.armed_ns = ns->armed_ns;
	if (sb) {
		s.rx = sb->rx;
		s.tx = sb->tx;
	}
	s.elapsed = bpf_ktime_get_ns() - ns->armed_ns;
	bpf_loop(ns->n_rules > FL_MAX_NET_RULES ? FL_MAX_NET_RULES : ns->n_rules, fl_reset_rule_step, &s, 0);
	return s.due;
}

/* For each socket of the targets: condemn it if a rule is due by time, and destroy it once
 * condemned (and its application read what had arrived). */
SEC("iter/tcp")
int fl_reset_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc)
		return 0;
	unsigned char state = skc->skc_state;
	if (state == FL_TCP_LISTEN || state == FL_TCP_CLOSE)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc); /* full sockets only */
	if (!tp)
		return 0;
	__u32 *bits = bpf_sk_storage_get(&fl_net_socks, tp, 0, 0);
	if (!bits)
		return 0;
	struct fl_reset_state *st = fl_reset_armed();
	if (!st)
		return 0;
	struct fl_sock_bytes *sb = bpf_sk_storage_get(&fl_reset_socks, tp, 0, 0);
	if (!sb || sb->gen != st->gen || !sb->doomed) {
		/* Not condemned by the TC programs: due by time (an idle connection at `when.after`)? */
		__s32 due = due_by_time(skc, *bits, sb && sb->gen == st->gen ? sb : 0);
		if (due < 0 || !(sb = fl_bytes_of(tp)))
			return 0;
		fl_bytes_doom(sb, due);
	}
	__s32 rule = sb->doomed - 1;
	/* Let the application read what arrived first (bytes.h, FL_RESET_GRACE_NS). */
	if (tp->rcv_nxt != tp->copied_seq && bpf_ktime_get_ns() - sb->doomed_ns < FL_RESET_GRACE_NS) {
		__sync_fetch_and_add(&st->waiting, 1);
		return 0;
	}
	if (rule < 0)
		return 0;
	__u32 key = rule;
	struct fl_counters *c = bpf_map_lookup_elem(&fl_net_counters, &key);
	if (!bpf_sock_destroy(skc) && c)
		__sync_fetch_and_add(&c->fired, 1);
	return 0;
}
