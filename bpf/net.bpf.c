// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Packet faults for the targeted processes' traffic: TC programs (tcx links, or cls_bpf filters
 * before kernel 6.6) on every interface, attribution by socket. A socket belongs to the target
 * set when a targeted process created it (cgroup/sock_create) or connected / sent with it
 * (cgroup/connect*, sendmsg*): it is marked in socket-local storage. Egress packets carry their socket (skb->sk); for ingress the receiving
 * socket is looked up from the packet's tuple (TCP, UDP). Unmarked traffic is never touched.
 * Each interface has an fl_net_dev entry: how long its link-layer header is (Ethernet and lo
 * carry 14 bytes before the IP header, L3 devices such as tun, ipip and wireguard none) and
 * which rules apply on it. Delay and bandwidth are not done here: the programs steer packets into qdiscs that do them
 * (packages/core/src/engine/shaping/shaping-qdiscs.ts).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/maps.h"
#include "include/rules.h"
#include "include/net.h"
#include "include/net_maps.h"
#include "include/bytes.h"
#include "include/flows.h"
#include "include/dns_fault.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* --- marking sockets of targeted processes --- */

static __always_inline void mark(struct bpf_sock *sk)
{
	struct fl_target *t;
	if (!sk || !(t = fl_current_fault_target()))
		return;
	__u32 *v = bpf_sk_storage_get(&fl_net_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	/* Not atomic (atomic OR needs -mcpu=v3): two targets marking one socket at the same instant
	 * may lose one's bits, the price of not requiring a newer ISA. */
	if (v && (*v & t->comm_bits) != t->comm_bits)
		*v |= t->comm_bits;
}

/*
 * While a shaping rule is armed, the targets' TCP sockets get an Ethernet-sized MSS before they
 * connect or listen (a listener advertises it, so the peer's segments shrink too). On lo a
 * segment is otherwise up to 64 KB: half a second at 1 mbit, one packet per shaper turn, and
 * the sender's loss probes retransmit what is only queued. With 1460 the flow sees the rate.
 */
static __always_inline void clamp_mss(struct bpf_sock_addr *ctx)
{
	__u32 zero = 0;
	struct fl_net_state *st = bpf_map_lookup_elem(&fl_net_state, &zero);
	if (!st || !st->tcp_mss || ctx->type != 1 /* SOCK_STREAM */ || !fl_current_fault_target())
		return;
	int mss = st->tcp_mss;
	bpf_setsockopt(ctx, IPPROTO_TCP, 2 /* TCP_MAXSEG */, &mss, sizeof(mss));
}

SEC("cgroup/sock_create") int fl_net_mark_create(struct bpf_sock *sk) { mark(sk); return 1; }
SEC("cgroup/connect4") int fl_net_mark_connect4(struct bpf_sock_addr *ctx) { mark(ctx->sk); clamp_mss(ctx); return 1; }
SEC("cgroup/connect6") int fl_net_mark_connect6(struct bpf_sock_addr *ctx) { mark(ctx->sk); clamp_mss(ctx); return 1; }
SEC("cgroup/bind4") int fl_net_mark_bind4(struct bpf_sock_addr *ctx) { clamp_mss(ctx); return 1; }
SEC("cgroup/bind6") int fl_net_mark_bind6(struct bpf_sock_addr *ctx) { clamp_mss(ctx); return 1; }
SEC("cgroup/sendmsg4") int fl_net_mark_sendmsg4(struct bpf_sock_addr *ctx) { mark(ctx->sk); return 1; }
SEC("cgroup/sendmsg6") int fl_net_mark_sendmsg6(struct bpf_sock_addr *ctx) { mark(ctx->sk); return 1; }

/* --- the TC side --- */

struct fl_pkt {
	__u32 family, proto, payload_off, payload_len;
	__u32 l4_off; /* the TCP / UDP header */
	__u32 tcp_seq; /* TCP: the sequence number, host order (bytes.h counts each byte once) */
	__u16 peer_port;
	__u8 peer[16];
	struct bpf_sock_tuple tuple; /* as the packet carries it, for socket lookup */
	__u32 tuple_len;
	struct fl_net_flow_key flow; /* its flow, for `when.nth` (flows.h); rule filled per rule */
};

/* l2_len: the bytes before the IP header on this interface (fl_net_dev). The version nibble is
 * checked too, so a device whose header length was not what we recorded is left alone. */
static __always_inline int parse(struct __sk_buff *skb, int ingress, __u32 l2_len, struct fl_pkt *p)
{
	__u32 off = l2_len;
	__u16 sport = 0, dport = 0;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) || ip.version != 4)
			return -1;
		p->family = 2;
		p->proto = ip.protocol;
		__builtin_memcpy(p->peer, ingress ? &ip.saddr : &ip.daddr, 4);
		p->tuple.ipv4.saddr = ip.saddr;
		p->tuple.ipv4.daddr = ip.daddr;
		p->tuple_len = sizeof(p->tuple.ipv4);
		off += (ip.ihl & 0xf) * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) || ip6.version != 6)
			return -1;
		p->family = 10;
		p->proto = ip6.nexthdr; /* extension headers: not followed */
		__builtin_memcpy(p->peer, ingress ? &ip6.saddr : &ip6.daddr, 16);
		__builtin_memcpy(p->tuple.ipv6.saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->tuple.ipv6.daddr, &ip6.daddr, 16);
		p->tuple_len = sizeof(p->tuple.ipv6);
		off += sizeof(ip6);
	} else {
		return -1;
	}
	__u32 l4 = 0;
	p->l4_off = off;
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		__u16 ports[2];
		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
			return -1;
		sport = ports[0];
		dport = ports[1];
		if (p->proto == IPPROTO_UDP) {
			l4 = 8;
		} else {
			__u8 doff;
			__u32 seq;
			if (bpf_skb_load_bytes(skb, off + 12, &doff, 1) || bpf_skb_load_bytes(skb, off + 4, &seq, 4))
				return -1;
			l4 = (doff >> 4) * 4;
			p->tcp_seq = bpf_ntohl(seq);
		}
	}
	if (p->family == 2) {
		p->tuple.ipv4.sport = sport;
		p->tuple.ipv4.dport = dport;
	} else {
		p->tuple.ipv6.sport = sport;
		p->tuple.ipv6.dport = dport;
	}
	p->peer_port = bpf_ntohs(ingress ? sport : dport);
	__u32 s[4] = {}, d[4] = {};
	if (p->family == 2) {
		s[0] = p->tuple.ipv4.saddr;
		d[0] = p->tuple.ipv4.daddr;
	} else {
		__builtin_memcpy(s, p->tuple.ipv6.saddr, 16);
		__builtin_memcpy(d, p->tuple.ipv6.daddr, 16);
	}
	fl_flow_key(&p->flow, p->proto, p->family, s, sport, d, dport);
	p->payload_off = off + l4;
	p->payload_len = skb->len > p->payload_off ? skb->len - p->payload_off : 0;
	return 0;
}

/* Whether the packet's socket is marked; *bits gets the comm bits it was marked with, *sb its
 * byte counts (TCP, while reset rules are armed). */
static __always_inline int owned(struct __sk_buff *skb, int ingress, struct fl_pkt *p, __u32 *bits, struct fl_sock_bytes **sb)
{
	__u32 *v;
	if (!ingress) {
		struct bpf_sock *sk = skb->sk;
		if (!sk)
			return 0;
		sk = bpf_sk_fullsock(sk);
		if (!sk || !(v = bpf_sk_storage_get(&fl_net_socks, sk, 0, 0)))
			return 0;
		*bits = *v;
		if (p->proto == IPPROTO_TCP)
			*sb = fl_bytes_of(sk);
		return 1;
	}
	struct bpf_sock *sk = 0;
	/* A constant per family: the verifier may not follow tuple_len through the stack. */
	__u32 tuple_len = p->family == 2 ? sizeof(p->tuple.ipv4) : sizeof(p->tuple.ipv6);
	if (p->proto == IPPROTO_TCP)
		sk = bpf_skc_lookup_tcp(skb, &p->tuple, tuple_len, BPF_F_CURRENT_NETNS, 0);
	else if (p->proto == IPPROTO_UDP)
		sk = bpf_sk_lookup_udp(skb, &p->tuple, tuple_len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	struct bpf_sock *full = bpf_sk_fullsock(sk);
	int mine = 0;
	if (full && (v = bpf_sk_storage_get(&fl_net_socks, full, 0, 0))) {
		*bits = *v;
		mine = 1;
		if (p->proto == IPPROTO_TCP)
			*sb = fl_bytes_of(full);
	}
	bpf_sk_release(sk);
	return mine;
}

static __always_inline int in_trie(void *trie, __u32 rule, struct fl_pkt *p)
{
	struct fl_net_lpm_key k = { .prefixlen = 32 + (p->family == 2 ? 32 : 128), .rule = rule, .family = p->family };
	__builtin_memcpy(k.addr, p->peer, 16);
	return bpf_map_lookup_elem(trie, &k) != 0;
}

struct fl_net_eval {
	struct fl_pkt *p;
	__u32 ingress;
	__u64 now;
	__u64 armed_ns;
	__u32 rules;     /* fl_net_dev.rules of the packet's interface */
	__u32 comm_bits; /* of the packet's socket */
	__s32 hit;       /* index of the rule that fired, -1 */
	__u32 counted;   /* the socket's bytes are counted (bytes.h) and it is not condemned yet */
	__s32 reset;     /* index of the reset rule that is due, -1 */
	__u64 rx, tx;    /* the socket's byte counts, this packet included */
};

/*
 * The `when` stage of a packet rule (rules.h's fl_when_fires, with nth per flow): past `after`,
 * then only packets of the rule's nth flow (the flow's index is taken on its first packet here,
 * so `eligible` counts flows), then the draw (seeded: the index-th packet to reach it, counted in
 * fl_net_draws), then at most `times` packets.
 */
static __always_inline int fl_net_when(__u32 i, const struct fl_net_rule *r, struct fl_counters *c, const struct fl_net_flow_key *flow, __u64 elapsed, __u64 armed_ns)
{
	if (r->after_ns && elapsed < r->after_ns)
		return 0;
	__u64 flow_index = fl_flow_index(i, c, flow, armed_ns);
	if (r->nth && flow_index + 1 != r->nth)
		return 0;
	__u32 key = i;
	__u64 *draws = bpf_map_lookup_elem(&fl_net_draws, &key);
	if (!draws)
		return 0;
	__u64 index = __sync_fetch_and_add(draws, 1);
	if (r->prob != FL_PROB_ALWAYS) {
		__u32 draw = (r->flags & FL_NET_SEEDED) ? fl_seeded_draw(r->seed, index) : bpf_get_prandom_u32();
		if (draw >= r->prob)
			return 0;
	}
	if (r->times && __sync_fetch_and_add(&c->slots, 1) >= r->times)
		return 0;
	return 1;
}

static long fl_net_rule_step(__u32 i, void *data)
{
	struct fl_net_eval *e = data;
	__u32 key = i;
	struct fl_net_rule *r = bpf_map_lookup_elem(&fl_net_rules, &key);
	struct fl_counters *c = bpf_map_lookup_elem(&fl_net_counters, &key);
	if (!r || !c)
		return 0;
	if (!(r->dir & (e->ingress ? FL_NET_INGRESS : FL_NET_EGRESS)) || !(e->rules & (1u << (i & 31))))
		return 0;
	if (r->comm_mask && !(r->comm_mask & e->comm_bits))
		return 0;
	__sync_fetch_and_add(&c->seen, 1);
	if (r->proto && r->proto != e->p->proto)
		return 0;
	if (r->nports) {
		int found = 0;
		for (int j = 0; j < FL_NET_MAX_PORTS; j++)
			if (j < r->nports && r->ports[j] == e->p->peer_port)
				found = 1;
		if (!found)
			return 0;
	}
	if ((r->flags & FL_NET_HOSTS) && !in_trie(&fl_net_hosts, i, e->p))
		return 0;
	if ((r->flags & FL_NET_ALLOW) && in_trie(&fl_net_allow, i, e->p))
		return 0;
	__sync_fetch_and_add(&c->matched, 1);
	__u64 elapsed = e->now - e->armed_ns;
	if (r->action == FL_NET_RESET) {
		/* Past `when.after` the connection is one of the rule's flows; with nth, only the nth is reset. */
		if (elapsed < r->after_ns)
			return 0;
		__u64 flow_index = fl_flow_index(i, c, &e->p->flow, e->armed_ns);
		if (r->nth && flow_index + 1 != r->nth)
			return 0;
		if (e->counted && e->reset < 0 && fl_reset_due(i, r, c, e->rx, e->tx, elapsed))
			e->reset = i;
		return 0;
	}
	if (!fl_net_when(i, r, c, &e->p->flow, elapsed, e->armed_ns))
		return 0;
	__sync_fetch_and_add(&c->fired, 1);
	e->hit = i;
	return 1;
}

static __always_inline int handle(struct __sk_buff *skb, int ingress)
{
	if (skb->mark == FL_DUP_MARK) {
		skb->mark = 0;
		return TC_ACT_UNSPEC;
	}
	__u32 zero = 0;
	struct fl_net_state *st = bpf_map_lookup_elem(&fl_net_state, &zero);
	__u32 dns = ingress ? 0 : fl_dns_armed(); /* DNS rules act on the targets' queries, at egress */
	if (!st || !(st->n_rules || dns))
		return TC_ACT_UNSPEC;
	__u32 ifindex = skb->ifindex;
	struct fl_net_dev *dev = bpf_map_lookup_elem(&fl_net_devs, &ifindex);
	if (!dev || !(dev->rules || dns))
		return TC_ACT_UNSPEC;
	struct fl_pkt p = {};
	__u32 bits = 0;
	struct fl_sock_bytes *sb = 0;
	if (parse(skb, ingress, dev->l2_len, &p) || !owned(skb, ingress, &p, &bits, &sb))
		return TC_ACT_UNSPEC;
	if (sb && fl_bytes_pass(sb, ingress, p.tcp_seq, p.payload_len))
		return TC_ACT_SHOT;
	if (dns && p.peer_port == 53) {
		int verdict = fl_dns_egress(skb, dev->l2_len, p.family, p.proto, p.l4_off, p.payload_off, p.payload_len, bits);
		if (verdict >= 0)
			return verdict;
	}
	struct fl_net_eval e = { .p = &p, .ingress = ingress, .now = bpf_ktime_get_ns(), .armed_ns = st->armed_ns,
				 .rules = dev->rules, .comm_bits = bits, .hit = -1, .reset = -1 };
	if (sb && !sb->doomed) {
		e.counted = 1;
		e.rx = sb->rx;
		e.tx = sb->tx;
	}
	bpf_loop(st->n_rules > FL_MAX_NET_RULES ? FL_MAX_NET_RULES : st->n_rules, fl_net_rule_step, &e, 0);
	if (sb && e.reset >= 0)
		fl_bytes_doom(sb, e.reset);
	if (e.hit < 0)
		return TC_ACT_UNSPEC;
	__u32 key = e.hit;
	struct fl_net_rule *r = bpf_map_lookup_elem(&fl_net_rules, &key);
	if (!r)
		return TC_ACT_UNSPEC;
	/* stolen: a redirect to no device (freed by skb_do_redirect), which the sender is told went
	 * out; not TC_ACT_STOLEN, which tcx takes for "next program" and lets the packet pass. */
	if (r->action == FL_NET_DROP)
		return (r->flags & FL_NET_STOLEN) ? bpf_redirect(0, 0) : TC_ACT_SHOT;
	if (r->action == FL_NET_CORRUPT) {
		/* Flip the first bytes of the payload; checksums are left wrong on purpose. */
		__u32 word;
		if (p.payload_len >= 4 && !bpf_skb_load_bytes(skb, p.payload_off, &word, 4)) {
			word ^= 0xffffffff;
			bpf_skb_store_bytes(skb, p.payload_off, &word, 4, 0);
		}
		return TC_ACT_UNSPEC;
	}
	if (r->action == FL_NET_SHAPE) {
		/* htb classifies by skb->priority when it names one of its classes. Egress: the
		 * interface's own qdisc; ingress: the IFB device's, which re-injects the packet here
		 * with tc classification skipped, so it is not steered twice. */
		skb->priority = r->classid;
		if (!ingress)
			return TC_ACT_UNSPEC;
		return st->ifb_ifindex ? bpf_redirect(st->ifb_ifindex, 0) : TC_ACT_UNSPEC;
	}
	if (r->action == FL_NET_DUPLICATE) {
		skb->mark = FL_DUP_MARK;
		bpf_clone_redirect(skb, skb->ifindex, ingress ? BPF_F_INGRESS : 0);
		skb->mark = 0;
	}
	return TC_ACT_UNSPEC;
}

SEC("tc") int fl_net_egress(struct __sk_buff *skb) { return handle(skb, 0); }
SEC("tc") int fl_net_ingress(struct __sk_buff *skb) { return handle(skb, 1); }
