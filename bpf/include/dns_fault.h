/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS failures by name, run by net.bpf.c's egress program on the targets' packets to port 53.
 * The question name is read from the query (UDP, or TCP when the segment holds one whole
 * length-prefixed message) and matched against the rules' globs. `timeout` drops the query
 * without the sender knowing. `nxdomain` / `servfail` turn a UDP query into its answer in
 * place: the packet is cut after the question, addresses and ports are swapped, QR, RA and
 * RCODE set, the checksums redone, and it is sent back to the querying socket (see the end of
 * fl_dns_answer_udp); the resolver never sees the query. Over TCP every answer is a drop: a
 * forged segment would desynchronise the server's side of the connection.
 */
#ifndef FAULTLINE_DNS_FAULT_H
#define FAULTLINE_DNS_FAULT_H

#include "faultline.h"
#include "rules.h"
#include "dns.h"

/* rule index -> fl_dns_rule; rule index -> fl_counters; [0] -> fl_dns_state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_DNS_RULES);
	__type(key, __u32);
	__type(value, struct fl_dns_rule);
} fl_dns_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_DNS_RULES);
	__type(key, __u32);
	__type(value, struct fl_counters);
} fl_dns_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_dns_state);
} fl_dns_state SEC(".maps");

/* The answer's UDP segment at most: UDP header, DNS header, a 255-byte name, type and class;
 * rounded up to the 4-byte words bpf_csum_diff sums. */
#define FL_DNS_SEG_LEN 288

/* Per-CPU work space of one query (too big for the stack). */
struct fl_dns_scratch {
	__u8 raw[FL_DNS_NAME_LEN];  /* the question name as the packet carries it (length-prefixed labels) */
	char name[FL_DNS_NAME_LEN]; /* ... as text: lower case, dots, NUL */
	__u8 seg[FL_DNS_SEG_LEN];   /* the answer's UDP segment, zero-padded, for its checksum */
	__u32 next, qend, n;        /* name parser: next length byte, end of the name (0 = bad), bytes loaded */
	__s32 pi, si, star_p, star_s, result; /* glob matcher */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_dns_scratch);
} fl_dns_scratch SEC(".maps");

/* lo's ifindex in every network namespace (the kernel's LOOPBACK_IFINDEX). */
#define FL_LOOPBACK_IFINDEX 1

#define FL_DNS_AT(a, i) ((a)[fl_bound((i), FL_DNS_NAME_LEN)])

/*
 * A length of 1..max (max a power of two) that the verifier of every kernel sees as such in the
 * register a helper gets: 6.1 learns no lower bound from "n != 0", so the bound comes from the
 * arithmetic itself, and the empty asm keeps clang from undoing it.
 */
static __always_inline __u64 fl_dns_len(__u64 n, __u64 max)
{
	n = ((n - 1) & (max - 1)) + 1;
	asm volatile("" : "+r"(n));
	return n;
}

/* How many DNS rules are armed: 0 keeps the TC programs' untargeted path as it was. */
static __always_inline __u32 fl_dns_armed(void)
{
	__u32 zero = 0;
	struct fl_dns_state *st = bpf_map_lookup_elem(&fl_dns_state, &zero);
	return st ? st->n_rules : 0;
}

/* One byte of the wire name: a length byte becomes '.', a letter its lower case, so the text
 * is the wire name shifted by one ("\3api\7example\3com\0" -> "api.example.com"). */
struct fl_dns_name {
	struct fl_dns_scratch *s;
};

static long fl_dns_name_step(__u32 i, void *data)
{
	struct fl_dns_scratch *s = ((struct fl_dns_name *)data)->s;
	if (i >= s->n || i >= FL_DNS_NAME_LEN)
		return 1; /* no terminating zero label inside the packet: not a name */
	__u8 c = FL_DNS_AT(s->raw, i);
	if (i == s->next) {
		if (c > 63)
			return 1; /* compression or extended labels: never in a query's question */
		if (i > 0)
			FL_DNS_AT(s->name, i - 1) = c ? '.' : 0;
		else if (!c)
			s->name[0] = 0; /* the root */
		if (!c) {
			s->qend = i + 1;
			return 1;
		}
		s->next = i + 1 + c;
		return 0;
	}
	FL_DNS_AT(s->name, i - 1) = (c >= 'A' && c <= 'Z') ? c + 32 : c;
	return 0;
}

struct fl_dns_glob {
	const char *pat;
	struct fl_dns_scratch *s;
};

/* One step of a plain wildcard match ('*' any run, '?' one character), one backtrack point. */
static long fl_dns_glob_step(__u32 i, void *data)
{
	struct fl_dns_glob *g = data;
	struct fl_dns_scratch *s = g->s;
	__s32 pi = s->pi, si = s->si;
	if (pi < 0 || pi >= FL_DNS_NAME_LEN || si < 0 || si >= FL_DNS_NAME_LEN) {
		s->result = 0;
		return 1;
	}
	char p = FL_DNS_AT(g->pat, pi);
	char c = FL_DNS_AT(s->name, si);
	if (p == '*') {
		s->star_p = pi;
		s->star_s = si;
		s->pi = pi + 1;
		return 0;
	}
	if (c && p && (p == '?' || p == c)) {
		s->pi = pi + 1;
		s->si = si + 1;
		return 0;
	}
	if (!c && !p) {
		s->result = 1;
		return 1;
	}
	if (s->star_p >= 0 && FL_DNS_AT(s->name, s->star_s)) {
		s->star_s++;
		s->si = s->star_s;
		s->pi = s->star_p + 1;
		return 0;
	}
	s->result = 0;
	return 1;
}

static __always_inline int fl_dns_glob_match(const char *pat, struct fl_dns_scratch *s)
{
	s->pi = 0;
	s->si = 0;
	s->star_p = -1;
	s->star_s = 0;
	s->result = -1;
	struct fl_dns_glob g = { .pat = pat, .s = s };
	/* Each byte of the name is retried at most once per pattern byte. */
	bpf_loop(FL_DNS_NAME_LEN * FL_DNS_NAME_LEN, fl_dns_glob_step, &g, 0);
	return s->result == 1;
}

struct fl_dns_eval {
	struct fl_dns_scratch *s;
	__u64 now, armed_ns;
	__u32 comm_bits;
	__s32 hit;
};

/* Counters as the network rules keep them: seen = the targets' queries, matched = by name. */
static long fl_dns_rule_step(__u32 i, void *data)
{
	struct fl_dns_eval *e = data;
	__u32 key = i;
	struct fl_dns_rule *r = bpf_map_lookup_elem(&fl_dns_rules, &key);
	struct fl_counters *c = bpf_map_lookup_elem(&fl_dns_counters, &key);
	if (!r || !c)
		return 0;
	if (r->comm_mask && !(r->comm_mask & e->comm_bits))
		return 0;
	__sync_fetch_and_add(&c->seen, 1);
	if (!fl_dns_glob_match(r->name, e->s))
		return 0;
	__sync_fetch_and_add(&c->matched, 1);
	if (r->after_ns && e->now - e->armed_ns < r->after_ns)
		return 0;
	__u64 index = __sync_fetch_and_add(&c->eligible, 1);
	if (r->prob != FL_PROB_ALWAYS) {
		__u32 draw = (r->flags & FL_DNS_SEEDED) ? fl_seeded_draw(r->seed, index) : bpf_get_prandom_u32();
		if (draw >= r->prob)
			return 0;
	}
	if (r->times && __sync_fetch_and_add(&c->slots, 1) >= r->times)
		return 0;
	__sync_fetch_and_add(&c->fired, 1);
	e->hit = i;
	return 1;
}

static __always_inline __u16 fl_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/*
 * A drop the sender does not hear of, so it waits for an answer that never comes: TC_ACT_SHOT
 * makes sendmsg fail with ENOBUFS on a socket with IP_RECVERR (glibc's resolver sets it), and
 * tcx treats TC_ACT_STOLEN as "next program". A redirect is always reported to the sender as
 * sent, and one to no device (ifindex 0) is freed by skb_do_redirect.
 */
static __always_inline int fl_dns_vanish(void)
{
	return bpf_redirect(0, 0);
}

/*
 * The UDP query at l3 (IP header) / l4 (UDP header), its question ending `qend` bytes after the
 * DNS header, becomes the answer with `rcode`; returns the TC verdict (the redirect).
 */
static __always_inline int fl_dns_answer_udp(struct __sk_buff *skb, struct fl_dns_scratch *s, __u32 l2_len, __u32 family,
					    __u32 l4, __u32 qend, __u16 rcode)
{
	__u32 msg_len = 12 + qend + 4;
	__u32 seg_len = 8 + msg_len;
	if (seg_len > FL_DNS_SEG_LEN)
		return TC_ACT_SHOT;
	if (skb->len > l4 + seg_len && bpf_skb_change_tail(skb, l4 + seg_len, 0))
		return TC_ACT_SHOT;
	/* DNS header: keep the id, opcode, RD and CD; set QR and RA; one question, nothing else. */
	__u16 hdr[6];
	if (bpf_skb_load_bytes(skb, l4 + 8, hdr, sizeof(hdr)))
		return TC_ACT_SHOT;
	__u16 f = bpf_ntohs(hdr[1]);
	hdr[1] = bpf_htons(0x8000 | (f & 0x7900) | 0x0080 | (f & 0x0010) | rcode);
	hdr[2] = bpf_htons(1);
	hdr[3] = hdr[4] = hdr[5] = 0;
	if (bpf_skb_store_bytes(skb, l4 + 8, hdr, sizeof(hdr), 0))
		return TC_ACT_SHOT;
	if (l2_len == 14) {
		__u8 mac[12], sw[12];
		if (bpf_skb_load_bytes(skb, 0, mac, 12))
			return TC_ACT_SHOT;
		__builtin_memcpy(sw, mac + 6, 6);
		__builtin_memcpy(sw + 6, mac, 6);
		bpf_skb_store_bytes(skb, 0, sw, 12, 0);
	}
	/* Pseudo header (addresses swapped: the same sum) and the IP header. */
	__u32 pseudo[10] = {};
	__u32 pseudo_len;
	if (family == 2) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, l2_len, &ip, sizeof(ip)))
			return TC_ACT_SHOT;
		__u16 old_tot = ip.tot_len, new_tot = bpf_htons(l4 + seg_len - l2_len);
		__u32 a = ip.saddr;
		ip.saddr = ip.daddr;
		ip.daddr = a;
		ip.tot_len = new_tot;
		bpf_skb_store_bytes(skb, l2_len + 12, &ip.saddr, 8, 0);
		bpf_skb_store_bytes(skb, l2_len + 2, &ip.tot_len, 2, 0);
		bpf_l3_csum_replace(skb, l2_len + 10, old_tot, new_tot, 2);
		pseudo[0] = ip.saddr;
		pseudo[1] = ip.daddr;
		pseudo[2] = bpf_htonl((IPPROTO_UDP << 16) | seg_len);
		pseudo_len = 12;
	} else {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, l2_len, &ip6, sizeof(ip6)))
			return TC_ACT_SHOT;
		__u8 tmp[16];
		__builtin_memcpy(tmp, &ip6.saddr, 16);
		__builtin_memcpy(&ip6.saddr, &ip6.daddr, 16);
		__builtin_memcpy(&ip6.daddr, tmp, 16);
		ip6.payload_len = bpf_htons(seg_len);
		bpf_skb_store_bytes(skb, l2_len + 4, &ip6.payload_len, 2, 0);
		bpf_skb_store_bytes(skb, l2_len + 8, &ip6.saddr, 32, 0);
		__builtin_memcpy(pseudo, &ip6.saddr, 32);
		pseudo[8] = bpf_htonl(seg_len);
		pseudo[9] = bpf_htonl(IPPROTO_UDP);
		pseudo_len = 40;
	}
	/* UDP header: ports swapped, the new length, and the checksum over all of it. */
	__u16 uh[4];
	if (bpf_skb_load_bytes(skb, l4, uh, sizeof(uh)))
		return TC_ACT_SHOT;
	__u16 no_csum = family == 2 && uh[3] == 0; /* IPv4 without a UDP checksum: keep it so */
	__u16 port = uh[0];
	uh[0] = uh[1];
	uh[1] = port;
	uh[2] = bpf_htons(seg_len);
	uh[3] = 0;
	bpf_skb_store_bytes(skb, l4, uh, sizeof(uh), 0);
	if (!no_csum) {
		__builtin_memset(s->seg, 0, sizeof(s->seg));
		__u64 n = fl_dns_len(seg_len, 512);
		if (n > FL_DNS_SEG_LEN || bpf_skb_load_bytes(skb, l4, s->seg, n))
			return TC_ACT_SHOT;
		__u64 words = (n + 3) & ~3ull;
		if (words > FL_DNS_SEG_LEN)
			return TC_ACT_SHOT;
		__s64 sum = bpf_csum_diff(0, 0, pseudo, pseudo_len == 12 ? 12 : 40, 0);
		if (sum < 0)
			return TC_ACT_SHOT;
		sum = bpf_csum_diff(0, 0, (__be32 *)s->seg, words, (__u32)sum);
		if (sum < 0)
			return TC_ACT_SHOT;
		__u16 check = fl_csum_fold((__u32)sum);
		if (!check)
			check = 0xffff;
		bpf_skb_store_bytes(skb, l4 + 6, &check, 2, 0);
	}
	/* On lo the answer goes on as it is: loopback_xmit hands it to lo's receive path with the
	 * query's route (a local one), so it is delivered to the querying socket. A redirect to
	 * lo's ingress would drop that route, and a packet to 127.0.0.0/8 routed afresh on input is
	 * a martian. Elsewhere the answer is to the machine's own address: redirected to the
	 * ingress of the device the query was leaving, it is routed and delivered like a reply. */
	if (skb->ifindex == FL_LOOPBACK_IFINDEX)
		return TC_ACT_OK;
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/*
 * A targeted egress packet to port 53 (l2_len: bytes before the IP header; l4: the UDP/TCP
 * header; payload: where its data starts). Returns the TC verdict when a rule fired, -1 to go on.
 */
static __always_inline int fl_dns_egress(struct __sk_buff *skb, __u32 l2_len, __u32 family, __u32 proto, __u32 l4,
					 __u32 payload, __u32 payload_len, __u32 comm_bits)
{
	__u32 msg = payload, msg_len = payload_len;
	if (proto == IPPROTO_TCP) {
		/* One whole length-prefixed message in this segment, as resolvers send a query. */
		__u16 prefix;
		if (payload_len < 2 || bpf_skb_load_bytes(skb, payload, &prefix, 2) || bpf_ntohs(prefix) != payload_len - 2)
			return -1;
		msg += 2;
		msg_len -= 2;
	} else if (proto != IPPROTO_UDP) {
		return -1;
	}
	__u16 hdr[6];
	if (msg_len < 12 + 1 + 4 || bpf_skb_load_bytes(skb, msg, hdr, sizeof(hdr)))
		return -1;
	/* A standard query (QR 0, opcode 0) with one question. */
	if ((bpf_ntohs(hdr[1]) & 0xf800) || bpf_ntohs(hdr[2]) != 1)
		return -1;
	__u32 zero = 0;
	struct fl_dns_scratch *s = bpf_map_lookup_elem(&fl_dns_scratch, &zero);
	struct fl_dns_state *st = bpf_map_lookup_elem(&fl_dns_state, &zero);
	if (!s || !st)
		return -1;
	__u64 n = (__u64)msg_len - 12; /* 64 bits: no zero-extension between the check and the helper */
	if (n > FL_DNS_NAME_LEN)
		n = FL_DNS_NAME_LEN;
	n = fl_dns_len(n, FL_DNS_NAME_LEN);
	if (n > FL_DNS_NAME_LEN || bpf_skb_load_bytes(skb, msg + 12, s->raw, n))
		return -1;
	s->n = n;
	s->next = 0;
	s->qend = 0;
	struct fl_dns_name nm = { .s = s };
	bpf_loop(FL_DNS_NAME_LEN, fl_dns_name_step, &nm, 0);
	__u32 qend = s->qend;
	if (!qend || 12 + qend + 4 > msg_len)
		return -1;
	struct fl_dns_eval e = { .s = s, .now = bpf_ktime_get_ns(), .armed_ns = st->armed_ns, .comm_bits = comm_bits, .hit = -1 };
	bpf_loop(st->n_rules > FL_MAX_DNS_RULES ? FL_MAX_DNS_RULES : st->n_rules, fl_dns_rule_step, &e, 0);
	if (e.hit < 0)
		return -1;
	__u32 key = e.hit;
	struct fl_dns_rule *r = bpf_map_lookup_elem(&fl_dns_rules, &key);
	if (!r)
		return -1;
	if (r->answer == FL_DNS_TIMEOUT || proto == IPPROTO_TCP)
		return fl_dns_vanish();
	return fl_dns_answer_udp(skb, s, l2_len, family, l4, qend, r->answer == FL_DNS_NXDOMAIN ? 3 : 2);
}

#endif /* FAULTLINE_DNS_FAULT_H */
