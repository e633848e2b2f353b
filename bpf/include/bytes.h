/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connection resets (network rules with action 'reset'): the TC programs of net.bpf.c count the
 * payload bytes of the targets' TCP sockets here, condemn a socket when a reset rule's
 * after_bytes (and `when.after`) are reached, and from then on drop its data packets, so at
 * most the one segment that crossed the limit passes. faultline's process sees `doomed` grow
 * and runs reset.bpf.c's iter/tcp program, which destroys the condemned sockets once their
 * application has read what had arrived (or FL_RESET_GRACE_NS later).
 * Shared by net.bpf.c (declares these maps) and reset.bpf.c (reuses them); user space mirror:
 * packages/core/src/engine/reset/reset-iterator.ts.
 */
#ifndef FAULTLINE_BYTES_H
#define FAULTLINE_BYTES_H

#include "faultline.h"
#include "net.h"

/* How long a condemned socket waits for its application to read what arrived before the
 * destruction. Data still queued at that moment is read first, and an event loop that sees
 * the hang-up together with data (libuv: a partial read, then POLLHUP) reports end-of-file
 * instead of the error: so the error comes on an empty queue, unless the reader is stuck. */
#define FL_RESET_GRACE_NS (1000ull * 1000 * 1000)

/* Per TCP socket of the targets, while reset rules are armed. */
struct fl_sock_bytes {
	__u64 rx;      /* payload bytes the socket received (ingress), each byte once */
	__u64 tx;      /* payload bytes it sent (egress), each byte once */
	__u32 doomed;  /* 1 + the index of the reset rule that condemned it; 0 = not condemned */
	__u32 gen;     /* fl_reset_state.gen when counting began: counts start again at each arming */
	__u32 rx_next; /* the sequence number after the last byte counted in, ... */
	__u32 tx_next; /* ... and out (a retransmission or loss probe adds nothing) */
	__u32 seen;    /* bit 0: rx_next is set, bit 1: tx_next is set */
	__u32 _pad;
	__u64 doomed_ns; /* when it was condemned (bpf_ktime_get_ns) */
};

struct fl_reset_state {
	__u64 doomed;  /* sockets condemned so far: user space runs the iterator when it grows */
	__u32 n_rules; /* reset rules armed; 0 = the TC programs count nothing */
	__u32 gen;     /* arming number (never 0 while armed) */
	__u64 waiting; /* times an iterator pass left a condemned socket for the next (unread data) */
};

/* socket -> fl_sock_bytes. Not cloned: an accepted connection counts its own bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fl_sock_bytes);
} fl_reset_socks SEC(".maps");

/* rule index -> after_bytes of a reset rule (0: reset as soon as `when.after` has passed). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_NET_RULES);
	__type(key, __u32);
	__type(value, __u64);
} fl_reset_limits SEC(".maps");

/* [0] -> fl_reset_state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_reset_state);
} fl_reset_state SEC(".maps");

static __always_inline struct fl_reset_state *fl_reset_armed(void)
{
	__u32 zero = 0;
	struct fl_reset_state *st = bpf_map_lookup_elem(&fl_reset_state, &zero);
	return st && st->n_rules ? st : 0;
}

/* The byte counts of a targeted TCP socket (a full socket), while reset rules are armed. */
static __always_inline struct fl_sock_bytes *fl_bytes_of(void *sk)
{
	struct fl_reset_state *st = fl_reset_armed();
	if (!st)
		return 0;
	struct fl_sock_bytes *sb = bpf_sk_storage_get(&fl_reset_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (sb && sb->gen != st->gen) {
		sb->rx = 0;
		sb->tx = 0;
		sb->doomed = 0;
		sb->seen = 0;
		sb->gen = st->gen;
	}
	return sb;
}

/* Counts the new bytes of a segment: those past the highest sequence number seen so far, so a
 * retransmission is not counted twice. Two CPUs counting one socket at once may count a
 * segment twice (not atomic: cmpxchg needs -mcpu=v3); one socket's segments rarely race. */
static __always_inline void fl_bytes_add(__u64 *count, __u32 *next, struct fl_sock_bytes *sb, __u32 bit, __u32 seq, __u32 len)
{
	__u32 end = seq + len;
	if (!(sb->seen & bit)) {
		sb->seen |= bit;
		*next = end;
		__sync_fetch_and_add(count, len);
		return;
	}
	__s32 fresh = (__s32)(end - *next);
	if (fresh <= 0)
		return;
	*next = end;
	__sync_fetch_and_add(count, fresh);
}

/* Counts a TCP segment's payload; returns 1 when it must be dropped: data of a condemned
 * socket. Control segments (ACK, FIN, the RST of its destruction) pass. */
static __always_inline int fl_bytes_pass(struct fl_sock_bytes *sb, int ingress, __u32 seq, __u32 len)
{
	if (sb->doomed)
		return len > 0;
	if (!len)
		return 0;
	if (ingress)
		fl_bytes_add(&sb->rx, &sb->rx_next, sb, 1, seq, len);
	else
		fl_bytes_add(&sb->tx, &sb->tx_next, sb, 2, seq, len);
	return 0;
}

/* The bytes a rule counts: those of its directions. */
static __always_inline __u64 fl_bytes_for(__u32 dir, __u64 rx, __u64 tx)
{
	return (dir & FL_NET_INGRESS ? rx : 0) + (dir & FL_NET_EGRESS ? tx : 0);
}

/* Whether reset rule i (its filters passed) is due for a socket with these counts: past
 * `when.after` and after_bytes, and a `times` ticket left (taken here). */
static __always_inline int fl_reset_due(__u32 i, const struct fl_net_rule *r, struct fl_counters *c, __u64 rx, __u64 tx, __u64 elapsed)
{
	__u32 key = i;
	__u64 *limit = bpf_map_lookup_elem(&fl_reset_limits, &key);
	if (!limit || elapsed < r->after_ns || fl_bytes_for(r->dir, rx, tx) < *limit)
		return 0;
	if (r->times && __sync_fetch_and_add(&c->slots, 1) >= r->times)
		return 0;
	return 1;
}

/* Condemns a socket for rule i and tells user space. */
static __always_inline void fl_bytes_doom(struct fl_sock_bytes *sb, __u32 i)
{
	struct fl_reset_state *st = fl_reset_armed();
	if (!st || sb->doomed)
		return;
	sb->doomed = i + 1;
	sb->doomed_ns = bpf_ktime_get_ns();
	__sync_fetch_and_add(&st->doomed, 1);
}

#endif
