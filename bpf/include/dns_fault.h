/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS failures by name, run by net.bpf.c's egress program on the targets' packets to port 53.
 * The question name is read from the query (UDP, or TCP when the segment holds one whole
 * length-prefixed message, or two for the same name) and matched against the rules' globs. `timeout` drops the query
 * without the sender knowing. `nxdomain` / `servfail` turn the query into its answer in place:
 * the packet is cut after the question, addresses and ports are swapped, QR, RA and RCODE set
 * (over TCP also the length prefix, sequence numbers, flags and timestamps: fl_dns_tcp_reply),
 * the checksums redone, and it is sent back to the querying socket (see the end of
 * fl_dns_answer); the resolver never sees the query. Over TCP the server's side of the
 * connection is reset first (fl_dns_reset_server).
 */
#ifndef FAULTLINE_DNS_FAULT_H
#define FAULTLINE_DNS_FAULT_H

#include "faultline.h"
#include "rules.h"
#include "dns.h"
#include "net.h"

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

/* The answer's segment at most, for its checksum: a TCP header with options (60 bytes) and the
 * 2-byte length (UDP: an 8-byte header), DNS header, a 255-byte name, type and class; or two
 * such messages over TCP (fl_dns_egress), as long as they fit. 512: what one bpf_csum_diff
 * call sums at most. */
#define FL_DNS_SEG_LEN 512

/* Per-CPU work space of one query (too big for the stack). */
struct fl_dns_scratch {
	__u8 raw[FL_DNS_NAME_LEN];  /* the question name as the packet carries it (length-prefixed labels) */
	char name[FL_DNS_NAME_LEN]; /* ... as text: lower case, dots, NUL */
	__u8 seg[FL_DNS_SEG_LEN];   /* the answer's UDP or TCP segment, zero-padded, for its checksum */
	__u32 addr[8];              /* the query's IP addresses (IPv4: the first two words) */
	__u32 pseudo[10];           /* the answer's pseudo header (IPv4: the first three words) */
	__u8 mac[12];               /* the query's Ethernet addresses */
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
	if (!fl_when_fires(c, e->now - e->armed_ns, r->after_ns, 0, r->prob, r->flags & FL_DNS_SEEDED, r->seed, r->times))
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
 * The server's side of a TCP query that is answered here: the query segment, made a reset
 * (RST|ACK at the sequence number the server expects, so it is accepted), is cloned out to the
 * server before the segment itself becomes the answer. The server never sees the query, so
 * without this the connection would be left out of step: the client's FIN, at a sequence number
 * the server never reached and acknowledging bytes it never sent, would be ignored and
 * retransmitted for minutes, and the server would keep a connection nobody uses. Reset, the
 * server's socket is gone, and the client's next segment (its ACK of the answer) is answered
 * by a reset that ends the client's socket too, after the answer: the answer stays readable
 * and a further read or write finds the connection reset or closed. The clone carries
 * FL_DUP_MARK, so these programs pass it (net.bpf.c).
 */
static __always_inline void fl_dns_reset_server(struct __sk_buff *skb, __u32 l4)
{
	__u16 flags, rst;
	if (bpf_skb_load_bytes(skb, l4 + 12, &flags, 2))
		return;
	rst = (flags & bpf_htons(0xf000)) | bpf_htons(0x14); /* data offset kept; RST|ACK */
	if (bpf_skb_store_bytes(skb, l4 + 12, &rst, 2, 0))
		return;
	bpf_l4_csum_replace(skb, l4 + 16, flags, rst, 2);
	__u32 mark = skb->mark;
	skb->mark = FL_DUP_MARK;
	bpf_clone_redirect(skb, skb->ifindex, 0);
	skb->mark = mark;
}

/*
 * The TCP header of the query (hlen bytes, `sent` bytes of data after it) as the server's
 * reply: ports swapped, the reply's sequence number is what the client acknowledged and it
 * acknowledges the whole query, ACK|PSH. Linux writes the timestamps option first (NOP, NOP,
 * TS): its values are swapped, so the reply's TSval is the client's TSecr (the server's clock,
 * which the client's PAWS check compares against) and its TSecr the client's own TSval.
 */
static __always_inline int fl_dns_tcp_reply(struct __sk_buff *skb, __u32 l4, __u32 hlen, __u32 sent)
{
	struct {
		__u16 sport, dport;
		__u32 seq, ack;
		__u16 flags, window, check, urg;
	} th;
	if (bpf_skb_load_bytes(skb, l4, &th, sizeof(th)))
		return -1;
	__u16 port = th.sport;
	th.sport = th.dport;
	th.dport = port;
	__u32 seq = th.seq;
	th.seq = th.ack;
	th.ack = bpf_htonl(bpf_ntohl(seq) + sent);
	th.flags = (th.flags & bpf_htons(0xf000)) | bpf_htons(0x18);
	th.check = 0;
	th.urg = 0;
	if (bpf_skb_store_bytes(skb, l4, &th, sizeof(th), 0))
		return -1;
	__u32 o[3];
	if (hlen >= 32 && !bpf_skb_load_bytes(skb, l4 + 20, o, sizeof(o)) && o[0] == bpf_htonl(0x0101080a)) {
		__u32 t = o[1];
		o[1] = o[2];
		o[2] = t;
		bpf_skb_store_bytes(skb, l4 + 24, &o[1], 8, 0);
	}
	return 0;
}

/* The DNS header at `off` as the answer's: keep the id, opcode, RD and CD; set QR and RA; one
 * question, nothing else. */
static __always_inline int fl_dns_answer_header(struct __sk_buff *skb, __u32 off, __u16 rcode)
{
	__u16 hdr[6];
	if (bpf_skb_load_bytes(skb, off, hdr, sizeof(hdr)))
		return -1;
	__u16 f = bpf_ntohs(hdr[1]);
	hdr[1] = bpf_htons(0x8000 | (f & 0x7900) | 0x0080 | (f & 0x0010) | rcode);
	hdr[2] = bpf_htons(1);
	hdr[3] = hdr[4] = hdr[5] = 0;
	return bpf_skb_store_bytes(skb, off, hdr, sizeof(hdr), 0);
}

/*
 * The query at l4 (its UDP header, or its TCP header of hlen bytes followed by the 2-byte
 * length; `sent`: the bytes after that header), its question ending `qend` bytes after the DNS
 * header, becomes the answer with `rcode`; returns the TC verdict (the redirect). `second`: over
 * TCP, where a second message of the same length and question starts (its length prefix), 0
 * for none; it gets its answer in the same way.
 */
static __always_inline int fl_dns_answer(struct __sk_buff *skb, struct fl_dns_scratch *s, __u32 l2_len, __u32 family,
					 __u32 proto, __u32 l4, __u32 hlen, __u32 sent, __u32 qend, __u32 second, __u16 rcode)
{
	__u32 tcp = proto == IPPROTO_TCP;
	__u32 prefix = tcp ? 2 : 0;
	__u32 msg_len = 12 + qend + 4;
	__u32 seg_len = hlen + (prefix + msg_len) * (second ? 2 : 1);
	if (seg_len > FL_DNS_SEG_LEN)
		return TC_ACT_SHOT;
	if (skb->len > l4 + seg_len && bpf_skb_change_tail(skb, l4 + seg_len, 0))
		return TC_ACT_SHOT;
	if (fl_dns_answer_header(skb, l4 + hlen + prefix, rcode) || (second && fl_dns_answer_header(skb, second + 2, rcode)))
		return TC_ACT_SHOT;
	if (tcp) {
		__u16 len = bpf_htons(msg_len); /* the message is shorter when records followed the question */
		if (bpf_skb_store_bytes(skb, l4 + hlen, &len, 2, 0))
			return TC_ACT_SHOT;
	}
	/* Work space in the scratch map, not the stack: 6.1 allows this program 512 bytes of stack
	 * for the TC program and the bpf_loop callbacks together, and little of it is left. */
	if (l2_len == 14) {
		if (bpf_skb_load_bytes(skb, 0, s->mac, 12))
			return TC_ACT_SHOT;
		bpf_skb_store_bytes(skb, 0, s->mac + 6, 6, 0);
		bpf_skb_store_bytes(skb, 6, s->mac, 6, 0);
	}
	/* The IP header and the pseudo header (addresses swapped: the same sum). */
	__u32 *pseudo = s->pseudo;
	__u32 pseudo_len;
	if (family == 2) {
		__u16 old_tot, new_tot = bpf_htons(l4 + seg_len - l2_len);
		if (bpf_skb_load_bytes(skb, l2_len + 2, &old_tot, 2) || bpf_skb_load_bytes(skb, l2_len + 12, s->addr, 8))
			return TC_ACT_SHOT;
		pseudo[0] = s->addr[1];
		pseudo[1] = s->addr[0];
		pseudo[2] = bpf_htonl((proto << 16) | seg_len);
		bpf_skb_store_bytes(skb, l2_len + 12, pseudo, 8, 0);
		bpf_skb_store_bytes(skb, l2_len + 2, &new_tot, 2, 0);
		bpf_l3_csum_replace(skb, l2_len + 10, old_tot, new_tot, 2);
		pseudo_len = 12;
	} else {
		__u16 plen = bpf_htons(seg_len);
		if (bpf_skb_load_bytes(skb, l2_len + 8, s->addr, 32))
			return TC_ACT_SHOT;
		for (int i = 0; i < 4; i++) {
			pseudo[i] = s->addr[4 + i];
			pseudo[4 + i] = s->addr[i];
		}
		pseudo[8] = bpf_htonl(seg_len);
		pseudo[9] = bpf_htonl(proto);
		bpf_skb_store_bytes(skb, l2_len + 4, &plen, 2, 0);
		bpf_skb_store_bytes(skb, l2_len + 8, pseudo, 32, 0);
		pseudo_len = 40;
	}
	/* The transport header, then the checksum over all of the segment. */
	__u32 check_off = 16;
	__u16 no_csum = 0;
	if (tcp) {
		if (fl_dns_tcp_reply(skb, l4, hlen, sent))
			return TC_ACT_SHOT;
	} else {
		__u16 uh[4];
		if (bpf_skb_load_bytes(skb, l4, uh, sizeof(uh)))
			return TC_ACT_SHOT;
		no_csum = family == 2 && uh[3] == 0; /* IPv4 without a UDP checksum: keep it so */
		__u16 port = uh[0];
		uh[0] = uh[1];
		uh[1] = port;
		uh[2] = bpf_htons(seg_len);
		uh[3] = 0;
		bpf_skb_store_bytes(skb, l4, uh, sizeof(uh), 0);
		check_off = 6;
	}
	if (!no_csum) {
		__builtin_memset(s->seg, 0, sizeof(s->seg));
		__u64 n = fl_dns_len(seg_len, FL_DNS_SEG_LEN);
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
		if (!check && !tcp)
			check = 0xffff; /* UDP: 0 would mean "no checksum" */
		bpf_skb_store_bytes(skb, l4 + check_off, &check, 2, 0);
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

struct fl_dns_same {
	struct fl_dns_scratch *s;
	__u32 qend, differ;
};

static long fl_dns_same_step(__u32 i, void *data)
{
	struct fl_dns_same *d = data;
	if (i >= d->qend || FL_DNS_AT(d->s->raw, i) != FL_DNS_AT(d->s->seg, i)) {
		d->differ = i < d->qend;
		return 1;
	}
	return 0;
}

/* Whether the second message at `off` (its DNS header) is a standard query, `msg_len` bytes
 * long like the first, whose question names the same name (its wire form in s->raw, qend bytes);
 * the type may differ. Nothing may follow either question, so both answers keep their length. */
static __always_inline int fl_dns_same_question(struct __sk_buff *skb, struct fl_dns_scratch *s, __u32 off, __u32 msg_len,
						__u32 qend)
{
	__u16 hdr[6];
	if (12 + qend + 4 != msg_len || bpf_skb_load_bytes(skb, off, hdr, sizeof(hdr)) || (bpf_ntohs(hdr[1]) & 0xf800) ||
	    bpf_ntohs(hdr[2]) != 1)
		return 0;
	__u64 n = fl_dns_len(qend, FL_DNS_NAME_LEN);
	if (n > FL_DNS_NAME_LEN || bpf_skb_load_bytes(skb, off + 12, s->seg, n))
		return 0;
	struct fl_dns_same d = { .s = s, .qend = qend, .differ = 1 };
	bpf_loop(FL_DNS_NAME_LEN + 1, fl_dns_same_step, &d, 0);
	return !d.differ;
}

/*
 * A targeted egress packet to port 53 (l2_len: bytes before the IP header; l4: the UDP/TCP
 * header; payload: where its data starts). Returns the TC verdict when a rule fired, -1 to go on.
 */
static __always_inline int fl_dns_egress(struct __sk_buff *skb, __u32 l2_len, __u32 family, __u32 proto, __u32 l4,
					 __u32 payload, __u32 payload_len, __u32 comm_bits)
{
	__u32 msg = payload, msg_len = payload_len, second = 0;
	if (proto == IPPROTO_TCP) {
		/* One whole length-prefixed message in this segment, as resolvers send a query; or two
		 * of the same length, as glibc writes the A and AAAA queries of one lookup. */
		__u16 prefix, prefix2;
		if (payload_len < 2 || bpf_skb_load_bytes(skb, payload, &prefix, 2))
			return -1;
		msg_len = bpf_ntohs(prefix);
		if (msg_len + 2 != payload_len) {
			second = payload + 2 + msg_len;
			if (2 * (msg_len + 2) != payload_len || payload - l4 + payload_len > FL_DNS_SEG_LEN ||
			    bpf_skb_load_bytes(skb, second, &prefix2, 2) || prefix2 != prefix)
				return -1;
		}
		msg += 2;
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
	if (second && !fl_dns_same_question(skb, s, second + 2, msg_len, qend))
		return -1;
	struct fl_dns_eval e = { .s = s, .now = bpf_ktime_get_ns(), .armed_ns = st->armed_ns, .comm_bits = comm_bits, .hit = -1 };
	bpf_loop(st->n_rules > FL_MAX_DNS_RULES ? FL_MAX_DNS_RULES : st->n_rules, fl_dns_rule_step, &e, 0);
	if (e.hit < 0)
		return -1;
	__u32 key = e.hit;
	struct fl_dns_rule *r = bpf_map_lookup_elem(&fl_dns_rules, &key);
	if (!r)
		return -1;
	if (r->answer == FL_DNS_TIMEOUT)
		return fl_dns_vanish();
	if (proto == IPPROTO_TCP)
		fl_dns_reset_server(skb, l4);
	return fl_dns_answer(skb, s, l2_len, family, proto, l4, payload - l4, payload_len, qend, second,
			     r->answer == FL_DNS_NXDOMAIN ? 3 : 2);
}

#endif /* FAULTLINE_DNS_FAULT_H */
