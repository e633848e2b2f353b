/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The glob matcher of match.path / match.fd, on its own so that a test-only object
 * (bpf/test/glob.bpf.c) runs the very same code against a reference matcher (picomatch).
 * Semantics and the deliberate differences from picomatch: see test/integration/glob.test.ts.
 */
#ifndef FAULTLINE_GLOB_H
#define FAULTLINE_GLOB_H

#include "faultline.h"

/* One step of the glob matcher, run by bpf_loop: '*' matches within a path segment, '?' one
 * non-'/' character, and a double star that is a whole segment (alone, or between slashes, or
 * after the last slash) matches across segments; followed by '/', it may also match no segment,
 * and what follows it starts a segment. A double star inside a segment ("a**b") is a '*', as
 * in picomatch and bash. Two backtrack points: the last '*' and the last double star. */
struct fl_glob_ctx {
	const char *pat;
	struct fl_scratch *s; /* the string (s->path) and the matcher state */
};

/* The empty asm stops clang from dropping a mask it can prove redundant: the verifier needs it. */
static __always_inline __u32 fl_bound(__u32 i, __u32 len)
{
	asm volatile("" : "+r"(i));
	return i & (len - 1);
}
#define FL_GLOB_AT(pat, i) ((pat)[fl_bound((i), FL_GLOB_LEN)])
#define FL_STR_AT(s, i) ((s)->path[fl_bound((i), FL_PATH_LEN)])

static long fl_glob_step(__u32 i, void *data)
{
	struct fl_glob_ctx *ctx = data;
	struct fl_scratch *g = ctx->s;
	const char *pat = ctx->pat;
	__s32 pi = g->pi, si = g->si;
	if (pi < 0 || pi >= FL_GLOB_LEN || si < 0 || si >= FL_PATH_LEN) {
		g->result = 0;
		return 1;
	}
	char p = FL_GLOB_AT(pat, pi);
	char c = FL_STR_AT(g, si);
	int seg_start = pi == 0 || FL_GLOB_AT(pat, pi - 1) == '/';
	char p1 = pi + 1 < FL_GLOB_LEN ? FL_GLOB_AT(pat, pi + 1) : 0;
	/* A segment that is only '*' names something: it does not match an empty segment. */
	int empty_seg = p == '*' && seg_start && (p1 == '/' || p1 == 0) && (c == '/' || c == 0);
	if (p == '*' && !empty_seg) {
		char after = pi + 2 < FL_GLOB_LEN ? FL_GLOB_AT(pat, pi + 2) : 0;
		if (p1 == '*' && seg_start && (after == '/' || after == 0)) {
			__s32 next = pi + 2;
			g->dstar_seg = after == '/';
			if (after == '/')
				next++;
			g->dstar_p = next;
			g->dstar_s = si;
			g->star_p = -1;
			g->pi = next;
		} else {
			g->star_p = pi + 1;
			g->star_s = si;
			g->pi = pi + 1;
		}
		return 0;
	}
	if (p == 0 && c == 0) {
		g->result = 1;
		return 1;
	}
	if (c != 0 && ((p == '?' && c != '/') || p == c)) {
		g->pi = pi + 1;
		g->si = si + 1;
		return 0;
	}
	if (g->star_p >= 0) {
		__s32 ss = g->star_s;
		char sc = FL_STR_AT(g, ss);
		if (sc != 0 && sc != '/') {
			g->star_s = ss + 1;
			g->si = ss + 1;
			g->pi = g->star_p;
			return 0;
		}
	}
	if (g->dstar_p >= 0) {
		__s32 ds = g->dstar_s;
		char dc = FL_STR_AT(g, ds);
		if (dc != 0) {
			g->dstar_s = ds + 1;
			/* "**" + "/": skip to the next segment one byte per step (pi and si stay on the
			 * mismatch, which fails again and comes back here) */
			if (g->dstar_seg && dc != '/')
				return 0;
			g->si = ds + 1;
			g->pi = g->dstar_p;
			g->star_p = -1;
			return 0;
		}
	}
	g->result = 0;
	return 1;
}

/* Matches s->path against pat. Out of steps (s->result still -1) counts as no match. */
static __always_inline int fl_glob_match(const char *pat, struct fl_scratch *s)
{
	s->pi = 0;
	s->si = 0;
	s->star_p = -1;
	s->star_s = 0;
	s->dstar_p = -1;
	s->dstar_s = 0;
	s->dstar_seg = 0;
	s->result = -1;
	struct fl_glob_ctx ctx = { .pat = pat, .s = s };
	/* Enough steps for any 127-byte glob on a 255-byte path that backtracks at every byte
	 * (4 * FL_PATH_LEN ran out on "/" "**" "/ab/ab/ab/ab/x" against "/ab/ab/.../ab/": no match).
	 * Only a targeted call with a path filter pays for steps; the verifier checks the callback
	 * once whatever the count. */
	bpf_loop(FL_GLOB_LEN * FL_PATH_LEN, fl_glob_step, &ctx, 0);
	return s->result == 1;
}

#endif /* FAULTLINE_GLOB_H */
