/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structs shared by every faultline BPF object and by user space.
 * The TypeScript mirror lives in packages/core/src/engine/shared-layout.ts; test/unit/layout.test.ts
 * checks that the sizes and offsets agree (it compiles this header with the host compiler).
 * Every field is fixed-width and explicitly padded so both sides agree without guessing.
 */
#ifndef FAULTLINE_H
#define FAULTLINE_H

#define FL_MAX_RULES 64  /* rules per armed config */
#define FL_MAX_TARGETS 16384 /* processes tracked at once */
#define FL_MAX_COMMS 32  /* comm filter entries */
#define FL_COMM_LEN 16   /* TASK_COMM_LEN */

/* fl_target.flags */
#define FL_TARGET_TRACK 1u /* descendants forked by this process join the target set */
#define FL_TARGET_FAULT 2u /* calls made by this process may be failed */

/* A process (thread group) in the armed set. Keyed by tgid, never by thread id. */
struct fl_target {
	__u32 flags;     /* FL_TARGET_* */
	__u32 comm_bits; /* fl_comms value of its comm (which comm filter entry it matched), 0 if none */
	__u64 exec_ns;   /* bpf_ktime_get_ns() at its last exec (or at arming), for `after` from exec */
	__u32 vpid;      /* its pid in the arming process's pid namespace (what targets() reports), 0 if not visible there */
	__u32 _pad;
};

/* fl_state.flags */
#define FL_STATE_COMM_FILTER 1u /* only processes whose comm is in fl_comms get FL_TARGET_FAULT */
#define FL_STATE_SYSTEM 2u      /* any exec on the machine whose comm matches joins the set */
#define FL_STATE_EXCLUDE_ROOT 4u /* scope 'children': root_tgid tracks but is never failed */
#define FL_STATE_NEED_PATH 8u    /* some rule matches on a path: hooks fetch the call's path */
#define FL_STATE_SITES 16u       /* a census by call site: rules log each eligible call's stack (sites.h) */

/* Global state of the armed config (one entry). */
struct fl_state {
	__u64 armed_ns;  /* bpf_ktime_get_ns() when armed; `after` counts from here */
	__u32 flags;     /* FL_STATE_* */
	__u32 n_rules;   /* rules [0, n_rules) of fl_rules are live */
	__u32 root_tgid; /* the arming process, as the kernel numbers it (global tgid, not process.pid) */
	__u32 exempt_tid; /* faultline's own thread (global tid) while it works (arm, disarm, counters): never failed */
	__u64 exempt_ino; /* inode of the test runner's IPC socket in root_tgid: never failed */
	__u32 pidns_level; /* depth of the arming process's pid namespace (0 = the initial one) */
	__u32 pidns_ino;   /* its nsfs inode: a target's pid is reported in that namespace, and scope 'system' stays in it */
};

/* What fl_whoami prints: the reader's identity as the kernel sees it. In a pid namespace
 * (a container) process.pid is not the global tgid the programs compare against. */
struct fl_whoami {
	__u32 tgid;        /* global tgid of the reading process */
	__u32 tid;         /* global tid of the reading thread */
	__u32 ns_tgid;     /* its tgid inside its own pid namespace (= process.pid) */
	__u32 pidns_level; /* depth of that namespace */
	__u32 pidns_ino;   /* its nsfs inode (= stat /proc/self/ns/pid) */
	__u32 _pad;
};

/* Operations a rule can fail. Numbered here, named in packages/core/src/engine/shared-layout.ts. */
enum fl_op {
	FL_OP_NONE = 0,
	FL_OP_CONNECT = 1,
	FL_OP_BIND = 2,
	FL_OP_SENDMSG = 3, /* unconnected UDP sendmsg/sendto: the cgroup hook sees a destination */
	FL_OP_SOCKET = 4,  /* inet/inet6 socket() */
	FL_OP_GETSOCKOPT = 5,
	FL_OP_SETSOCKOPT = 6,
	/* Syscall-level mechanisms (entry hooks and LSM hooks) use FL_OP_SYS_BASE + syscall nr. */
	FL_OP_SYS_BASE = 1000,
	/* Delay rules (delay.bpf.c) use FL_OP_DELAY_BASE + syscall nr: no errno mechanism evaluates them. */
	FL_OP_DELAY_BASE = 2000,
	/* Corrupted reads (corrupt.bpf.c) use FL_OP_CORRUPT_BASE + syscall nr: no errno mechanism
	 * evaluating the same syscall ever matches a corrupt rule. */
	FL_OP_CORRUPT_BASE = 3000,
};

#define FL_MAX_SYSCALLS 512 /* syscall numbers below this can be failed */
#define FL_PATH_LEN 256     /* bytes of a path compared against a glob */
#define FL_GLOB_LEN 128     /* bytes of a glob */
#define FL_ARG_NONE 0xff

/* fl_rule.match_flags */
#define FL_MATCH_PORT 1u
#define FL_MATCH_ADDR 2u
#define FL_MATCH_FAMILY 4u
#define FL_MATCH_PATH 8u   /* fl_globs[rule] against the call's path (see fl_call.has_path) */
#define FL_MATCH_FLAGS 16u /* every bit of open_flags set in the call's open flags */

/* fl_rule.flags */
#define FL_RULE_SEEDED 1u          /* probability draws come from splitmix64(seed, index) */
#define FL_RULE_AFTER_FROM_EXEC 2u /* `after` counts from the target's exec, not from arming */

#define FL_PROB_ALWAYS 0xffffffffu /* fl_rule.prob: no probability check */

/* One failure rule. Index in fl_rules = index in the config = index in fl_counters. */
struct fl_rule {
	__u32 op;          /* enum fl_op */
	__s32 ret;         /* value the call returns: a negative errno */
	__u32 match_flags; /* FL_MATCH_* */
	__u16 port;        /* host byte order */
	__u8 family;       /* AF_INET (2) or AF_INET6 (10) */
	__u8 _pad0;
	__u32 addr[4];     /* network byte order, already masked; inet uses addr[0] */
	__u32 mask[4];     /* prefix mask, network byte order */
	__u64 after_ns;    /* calls before this delay are not eligible */
	__u32 nth;         /* 1-based: only the nth eligible call fires; 0 = any */
	__u32 times;       /* at most this many fire; 0 = unlimited */
	__u32 prob;        /* fire when draw < prob; FL_PROB_ALWAYS = always */
	__u32 flags;       /* FL_RULE_* */
	__u32 comm_mask;   /* fire only for targets whose comm_bits intersect this; 0 = any target */
	__u32 open_flags;  /* with FL_MATCH_FLAGS: O_* bits that must all be set */
	__u64 seed;
};

/* Per syscall number: where its arguments are. Filled by user space from its syscall table. */
struct fl_sysinfo {
	__u8 path_arg;  /* index (0-5) of the path argument, FL_ARG_NONE if none */
	__u8 flags_arg; /* index of the open flags argument, FL_ARG_NONE if none */
	__u8 fd_arg;    /* index of the fd argument, FL_ARG_NONE if none */
	__u8 _pad;
	__u32 implied_flags; /* flags the call implies (creat: O_CREAT|O_WRONLY|O_TRUNC) */
};

/* A glob for FL_MATCH_PATH: '*' (not across '/'), '**' (across), '?'. NUL-terminated. */
struct fl_glob {
	char pattern[FL_GLOB_LEN];
};

/* Per-CPU scratch: the path of the call being evaluated (too big for the BPF stack), and the
 * glob matcher's state. The state lives in map memory on purpose: the verifier tracks stack
 * values exactly and would walk every iteration of the matcher; map values it treats as
 * unknown, so the bpf_loop callback is verified in a few passes. */
struct fl_scratch {
	char path[FL_PATH_LEN];
	__s32 pi, si, star_p, star_s, dstar_p, dstar_s;
	__s32 result;    /* -1 running, 0 no match, 1 match */
	__s32 dstar_seg; /* the last double star is a whole segment followed by '/': resume only at a segment start */
};

/* Counters per rule. Updated with atomic adds: every CPU and thread of the tree counts in one place. */
struct fl_counters {
	__u64 seen;     /* calls of the rule's syscall by targeted processes */
	__u64 matched;  /* ... that passed the rule's match filter */
	__u64 eligible; /* ... that were past `after`: the index used by nth and seeded draws */
	__u64 fired;    /* ... that were failed */
	__u64 slots;    /* `times` tickets taken (may exceed fired under races; never shown) */
};

#endif /* FAULTLINE_H */
