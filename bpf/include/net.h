/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Network fault structs, shared by net.bpf.c and user space (packages/core/src/engine/network/net-layout.ts). */
#ifndef FAULTLINE_NET_H
#define FAULTLINE_NET_H

#define FL_MAX_NET_RULES 16
#define FL_NET_MAX_PORTS 8
#define FL_DUP_MARK 0xfa17d0b1u /* skb->mark of our own duplicate, so it is passed, not duplicated again */

/* FL_NET_SHAPE: delay / bandwidth. The packet is steered into the rule's class of faultline's
 * htb qdisc (skb->priority = classid); ingress packets go through the IFB device first. */
/* FL_NET_RESET: counted, and the socket condemned, by bytes.h; destroyed by reset.bpf.c. */
enum fl_net_action { FL_NET_DROP = 1, FL_NET_CORRUPT = 2, FL_NET_DUPLICATE = 3, FL_NET_SHAPE = 4, FL_NET_RESET = 5 };

/* fl_net_rule.dir */
#define FL_NET_EGRESS 1u
#define FL_NET_INGRESS 2u

/* fl_net_rule.flags */
#define FL_NET_STOLEN 1u     /* drop the sender is told left (a redirect to no device; tcx ignores TC_ACT_STOLEN) */
#define FL_NET_SEEDED 2u
#define FL_NET_HOSTS 4u      /* only peers in fl_net_hosts */
#define FL_NET_ALLOW 8u      /* never peers in fl_net_allow */

struct fl_net_rule {
	__u32 action;   /* enum fl_net_action */
	__u32 dir;      /* FL_NET_EGRESS | FL_NET_INGRESS */
	__u32 proto;    /* IPPROTO_TCP/UDP/ICMP/ICMPV6, 0 = any */
	__u32 nports;   /* 0 = any peer port */
	__u16 ports[FL_NET_MAX_PORTS]; /* peer ports, host order */
	__u32 prob;     /* FL_PROB_ALWAYS or threshold */
	__u32 times;    /* 0 = unlimited */
	__u32 flags;    /* FL_NET_* */
	__u32 classid;  /* FL_NET_SHAPE: the htb class (TC_H_MAKE(major, minor)) user space created */
	__u64 after_ns;
	__u64 seed;
	__u32 comm_mask; /* 0 = any; else only sockets marked by a process whose comm bits intersect it */
	__u32 nth;       /* 1-based: act only on the nth matching flow (connection) of the rule; 0 = any (flows.h) */
};

/* LPM key of fl_net_hosts / fl_net_allow: rule index and family, then the peer address.
 * prefixlen = 32 (rule, family, pad) + the address prefix. */
struct fl_net_lpm_key {
	__u32 prefixlen;
	__u8 rule;
	__u8 family;
	__u8 _pad[2];
	__u8 addr[16];
};

/* fl_net_flows key: a rule and one flow, its two endpoints in a canonical order (the lower
 * address, then port, first), so both directions and both ends of a connection are one flow. */
struct fl_net_flow_key {
	__u32 rule;
	__u8 proto;
	__u8 family;
	__be16 port_a, port_b; /* network order */
	__u8 _pad[2];
	__u8 addr_a[16];
	__u8 addr_b[16];
};

/* fl_net_flows value: the flow's index among the rule's flows (0-based, taken from its
 * fl_counters.eligible) in the arming that started at armed_ns. */
struct fl_net_flow_val {
	__u64 index;
	__u64 armed_ns;
};

/* fl_net_devs value: per interface the TC programs are attached to. */
struct fl_net_dev {
	__u32 l2_len; /* bytes before the IP header: 14 (Ethernet, lo), 0 (L3 devices: tun, ipip, wireguard) */
	__u32 rules;  /* bit i: rule i applies on this interface */
};

struct fl_net_state {
	__u64 armed_ns;
	__u32 n_rules;
	__u32 ifb_ifindex; /* the IFB device ingress shaping redirects to; 0 = none */
	__u32 tcp_mss;     /* shaping: TCP_MAXSEG for the targets' TCP sockets; 0 = leave them alone */
	__u32 _pad;
};

#endif
