/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Rule evaluation shared by every fault mechanism: filters, then `when`
 * (after -> nth -> probability -> times), then counters. The first rule that fires wins.
 */
#ifndef FAULTLINE_RULES_H
#define FAULTLINE_RULES_H

#include "maps.h"
#include "glob.h"

/* What a hook knows about the call it intercepted. */
struct fl_call {
	__u32 op;      /* enum fl_op */
	__u32 family;  /* AF_INET / AF_INET6, 0 when unknown */
	__u32 port;    /* host byte order, 0 when the call has no port */
	__u32 addr[4]; /* network byte order */
	__u32 has_addr;
	__u32 has_path;   /* the per-CPU fl_scratch holds the call's path */
	__u32 open_flags; /* the call's open flags (FL_MATCH_FLAGS) */
};


/* splitmix64: the seeded draw for eligible call number `index`. Mirrored in
 * packages/core/src/engine/prng.ts so tests (and users) can predict which calls fail. */
static __always_inline __u64 fl_splitmix64(__u64 seed, __u64 index)
{
	__u64 z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static __always_inline __u32 fl_seeded_draw(__u64 seed, __u64 index)
{
	return (__u32)(fl_splitmix64(seed, index) >> 32);
}

/* The `when` stage every kind of rule shares (syscall, network, DNS), once a call matched: past
 * `after` (`since_ns`: time since the window opened, or since the exec), then only the nth
 * eligible call (0: any), then a draw under `prob` (seeded: the index-th draw of `seed`), then
 * at most `times` (0: no limit). Counts eligible and slots in `c`; 1 when the rule fires, and
 * the caller counts fired. */
static __always_inline int fl_when_fires_at(struct fl_counters *c, __u64 index, __u32 nth, __u32 prob, int seeded,
					    __u64 seed, __u32 times)
{
	if (nth && index + 1 != nth)
		return 0;
	if (prob != FL_PROB_ALWAYS) {
		__u32 draw = seeded ? fl_seeded_draw(seed, index) : bpf_get_prandom_u32();
		if (draw >= prob)
			return 0;
	}
	if (times && __sync_fetch_and_add(&c->slots, 1) >= times)
		return 0;
	return 1;
}

/* 1-based index of this call among the rule's eligible ones (past `after`), or 0 when it is not eligible. */
static __always_inline __u64 fl_eligible_index(struct fl_counters *c, __u64 since_ns, __u64 after_ns)
{
	if (after_ns && since_ns < after_ns)
		return 0;
	return __sync_fetch_and_add(&c->eligible, 1) + 1;
}

static __always_inline int fl_when_fires(struct fl_counters *c, __u64 since_ns, __u64 after_ns, __u32 nth,
					 __u32 prob, int seeded, __u64 seed, __u32 times)
{
	__u64 index = fl_eligible_index(c, since_ns, after_ns);
	return index && fl_when_fires_at(c, index - 1, nth, prob, seeded, seed, times);
}

/* In a census by call site: which stack the calling thread's syscall came from, for eligible call `nth`. */
static __always_inline void fl_log_site(__u32 rule, __u64 nth)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct fl_site *site = bpf_map_lookup_elem(&fl_site_now, &tid);
	if (!site)
		return; /* no sys_enter seen for this call: user space explores it by k */
	struct fl_site_key k = { .rule = rule, .nth = (__u32)nth };
	bpf_map_update_elem(&fl_site_log, &k, site, BPF_ANY);
}

static __always_inline int fl_addr_matches(const struct fl_rule *r, const struct fl_call *c)
{
	if (!c->has_addr || c->family != r->family)
		return 0;
	if (r->family == 2 /* AF_INET */)
		return (c->addr[0] & r->mask[0]) == r->addr[0];
	return (c->addr[0] & r->mask[0]) == r->addr[0] && (c->addr[1] & r->mask[1]) == r->addr[1] &&
	       (c->addr[2] & r->mask[2]) == r->addr[2] && (c->addr[3] & r->mask[3]) == r->addr[3];
}

static __always_inline int fl_filters_match(const struct fl_rule *r, const struct fl_call *c)
{
	if ((r->match_flags & FL_MATCH_FAMILY) && c->family != r->family)
		return 0;
	if ((r->match_flags & FL_MATCH_PORT) && c->port != r->port)
		return 0;
	if ((r->match_flags & FL_MATCH_ADDR) && !fl_addr_matches(r, c))
		return 0;
	if ((r->match_flags & FL_MATCH_FLAGS) && (c->open_flags & r->open_flags) != r->open_flags)
		return 0;
	return 1;
}

static __always_inline int fl_path_matches(__u32 rule, const struct fl_call *c)
{
	if (!c->has_path)
		return 0;
	__u32 zero = 0;
	struct fl_glob *g = bpf_map_lookup_elem(&fl_globs, &rule);
	struct fl_scratch *s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!g || !s)
		return 0;
	return fl_glob_match(g->pattern, s);
}

/* State threaded through bpf_loop: the verifier checks the callback once instead of unrolling
 * FL_MAX_RULES iterations for every program (200 ms of load time for the socket object). */
struct fl_eval_ctx {
	const struct fl_call *call;
	const struct fl_target *target;
	__u64 base_armed_ns;
	__u64 now;
	long ret;
	__s32 rule;        /* the rule that fired, -1 if none */
	__u64 fired_index; /* its `fired` count before this call: 0 for its first firing */
	__u32 sites;       /* FL_STATE_SITES: log each eligible call's stack */
};

static long fl_eval_rule(__u32 i, void *data)
{
	struct fl_eval_ctx *ec = data;
	const struct fl_call *call = ec->call;
	__u32 key = i;
	struct fl_rule *r = bpf_map_lookup_elem(&fl_rules, &key);
	struct fl_counters *cnt = bpf_map_lookup_elem(&fl_counters, &key);
	if (!r || !cnt || r->op != call->op)
		return 0;
	if (r->comm_mask && !(r->comm_mask & ec->target->comm_bits))
		return 0; /* a rule for other processes of the target set */
	__sync_fetch_and_add(&cnt->seen, 1);
	if (!fl_filters_match(r, call))
		return 0;
	if ((r->match_flags & FL_MATCH_PATH) && !fl_path_matches(key, call))
		return 0;
	__sync_fetch_and_add(&cnt->matched, 1);

	__u64 base = (r->flags & FL_RULE_AFTER_FROM_EXEC) ? ec->target->exec_ns : ec->base_armed_ns;
	__u64 index = fl_eligible_index(cnt, ec->now - base, r->after_ns);
	if (!index)
		return 0;
	if (ec->sites)
		fl_log_site(key, index);
	if (!fl_when_fires_at(cnt, index - 1, r->nth, r->prob, r->flags & FL_RULE_SEEDED, r->seed, r->times))
		return 0;
	ec->fired_index = __sync_fetch_and_add(&cnt->fired, 1);
	ec->rule = (__s32)i;
	ec->ret = r->ret;
	return 1; /* the first rule that fires wins */
}

/* Runs the rules against `call`; ec->rule says which fired (-1: none), ec->ret what it returns. */
static __always_inline void fl_eval_into(struct fl_eval_ctx *ec, const struct fl_call *call, const struct fl_target *target)
{
	ec->call = call;
	ec->target = target;
	ec->ret = 0;
	ec->rule = -1;
	struct fl_state *st = fl_get_state();
	if (!st)
		return;
	__u32 n = st->n_rules;
	if (n > FL_MAX_RULES)
		n = FL_MAX_RULES;
	ec->base_armed_ns = st->armed_ns;
	ec->sites = st->flags & FL_STATE_SITES;
	ec->now = bpf_ktime_get_ns();
	bpf_loop(n, fl_eval_rule, ec, 0);
}

/* Returns the negative value the call must return, or 0 to let it through. */
static __always_inline long fl_eval(const struct fl_call *call, const struct fl_target *target)
{
	struct fl_eval_ctx ec = {};
	fl_eval_into(&ec, call, target);
	return ec.ret;
}

#endif /* FAULTLINE_RULES_H */
