/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Flows for network rules' `when.nth`: the nth matching connection, not the nth packet. A flow
 * is (protocol, the two endpoints) in a canonical order, so the packets of both directions, and
 * of both ends when both are targets, are one flow. The first packet of a flow a rule matches
 * (past `when.after`) takes the rule's next fl_counters.eligible, and every later packet of the
 * flow looks it up in fl_net_flows (net_maps.h): `eligible` counts a network rule's connections.
 * Keyed by the tuple and not by the socket: the SYN of a connection to a targeted listener
 * belongs to the listener socket, its later packets to the accepted one, and an unconnected UDP
 * socket talks to many peers; the tuple is the same for all of a connection's packets, and
 * reset.bpf.c's iterator builds it from the socket (fl_flow_of_sock there).
 * Shared by net.bpf.c and reset.bpf.c.
 */
#ifndef FAULTLINE_FLOWS_H
#define FAULTLINE_FLOWS_H

#include "faultline.h"
#include "net.h"
#include "net_maps.h"

#define FL_FLOW_NONE (~0ull)

/* Whether endpoint (a, pa) sorts before (b, pb): any order both ends agree on will do. */
static __always_inline int fl_flow_before(const __u32 *a, __u16 pa, const __u32 *b, __u16 pb)
{
	for (int j = 0; j < 4; j++)
		if (a[j] != b[j])
			return a[j] < b[j];
	return pa <= pb;
}

/* The flow of endpoints (a, pa) and (b, pb), addresses as 4 words (IPv4: the first, the rest 0). */
static __always_inline void fl_flow_key(struct fl_net_flow_key *k, __u8 proto, __u8 family, const __u32 *a, __u16 pa, const __u32 *b, __u16 pb)
{
	k->proto = proto;
	k->family = family;
	if (fl_flow_before(a, pa, b, pb)) {
		__builtin_memcpy(k->addr_a, a, 16);
		__builtin_memcpy(k->addr_b, b, 16);
		k->port_a = pa;
		k->port_b = pb;
	} else {
		__builtin_memcpy(k->addr_a, b, 16);
		__builtin_memcpy(k->addr_b, a, 16);
		k->port_a = pb;
		k->port_b = pa;
	}
}

/*
 * The 0-based index of `flow` among rule's flows in this arming (armed_ns); a flow seen for the
 * first time takes the next c->eligible. FL_FLOW_NONE in the instant another CPU is indexing it.
 */
static __always_inline __u64 fl_flow_index(__u32 rule, struct fl_counters *c, const struct fl_net_flow_key *flow, __u64 armed_ns)
{
	struct fl_net_flow_key k = *flow;
	k.rule = rule;
	struct fl_net_flow_val *v = bpf_map_lookup_elem(&fl_net_flows, &k);
	if (v) {
		if (v->armed_ns == armed_ns)
			return v->index;
		bpf_map_delete_elem(&fl_net_flows, &k); /* from an earlier arming */
	}
	struct fl_net_flow_val nv = { .index = FL_FLOW_NONE, .armed_ns = armed_ns };
	if (bpf_map_update_elem(&fl_net_flows, &k, &nv, BPF_NOEXIST))
		return FL_FLOW_NONE;
	__u64 index = __sync_fetch_and_add(&c->eligible, 1);
	v = bpf_map_lookup_elem(&fl_net_flows, &k);
	if (v)
		v->index = index;
	return index;
}

/* The flow's index if the rule has indexed it in this arming, else FL_FLOW_NONE. */
static __always_inline __u64 fl_flow_known(__u32 rule, const struct fl_net_flow_key *flow, __u64 armed_ns)
{
	struct fl_net_flow_key k = *flow;
	k.rule = rule;
	struct fl_net_flow_val *v = bpf_map_lookup_elem(&fl_net_flows, &k);
	return v && v->armed_ns == armed_ns ? v->index : FL_FLOW_NONE;
}

#endif
