// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket-call faults through cgroup hooks + bpf_set_retval (kernel >= 6.1, cgroup v2).
 * Attached to the cgroup v2 root only while armed. A program returning 0 after
 * bpf_set_retval(-E) makes the syscall return -E; returning 1 lets the call through.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/rules.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

static __always_inline int verdict(const struct fl_call *call, const struct fl_target *t)
{
	long ret = fl_eval(call, t);
	if (!ret)
		return 1;
	bpf_set_retval((int)ret);
	return 0;
}

static __always_inline int sockaddr4(struct bpf_sock_addr *ctx, __u32 op)
{
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 1;
	struct fl_call call = { .op = op, .family = AF_INET, .has_addr = 1 };
	call.port = bpf_ntohs((__u16)ctx->user_port);
	call.addr[0] = ctx->user_ip4;
	return verdict(&call, t);
}

static __always_inline int sockaddr6(struct bpf_sock_addr *ctx, __u32 op)
{
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 1;
	struct fl_call call = { .op = op, .family = AF_INET6, .has_addr = 1 };
	call.port = bpf_ntohs((__u16)ctx->user_port);
	call.addr[0] = ctx->user_ip6[0];
	call.addr[1] = ctx->user_ip6[1];
	call.addr[2] = ctx->user_ip6[2];
	call.addr[3] = ctx->user_ip6[3];
	return verdict(&call, t);
}

SEC("cgroup/connect4") int fl_connect4(struct bpf_sock_addr *ctx) { return sockaddr4(ctx, FL_OP_CONNECT); }
SEC("cgroup/connect6") int fl_connect6(struct bpf_sock_addr *ctx) { return sockaddr6(ctx, FL_OP_CONNECT); }
SEC("cgroup/bind4") int fl_bind4(struct bpf_sock_addr *ctx) { return sockaddr4(ctx, FL_OP_BIND); }
SEC("cgroup/bind6") int fl_bind6(struct bpf_sock_addr *ctx) { return sockaddr6(ctx, FL_OP_BIND); }
SEC("cgroup/sendmsg4") int fl_sendmsg4(struct bpf_sock_addr *ctx) { return sockaddr4(ctx, FL_OP_SENDMSG); }
SEC("cgroup/sendmsg6") int fl_sendmsg6(struct bpf_sock_addr *ctx) { return sockaddr6(ctx, FL_OP_SENDMSG); }

SEC("cgroup/sock_create")
int fl_sock_create(struct bpf_sock *sk)
{
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 1;
	struct fl_call call = { .op = FL_OP_SOCKET, .family = sk->family };
	return verdict(&call, t);
}

static __always_inline int sockopt(struct bpf_sockopt *ctx, __u32 op)
{
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 1;
	struct bpf_sock *sk = ctx->sk;
	struct fl_call call = { .op = op, .family = sk ? sk->family : 0 };
	return verdict(&call, t);
}

SEC("cgroup/getsockopt") int fl_getsockopt(struct bpf_sockopt *ctx) { return sockopt(ctx, FL_OP_GETSOCKOPT); }
SEC("cgroup/setsockopt") int fl_setsockopt(struct bpf_sockopt *ctx) { return sockopt(ctx, FL_OP_SETSOCKOPT); }
