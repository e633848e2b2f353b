// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Feature probe for connection resets: bpf_sock_destroy from an iter/tcp program (Linux >= 6.5).
 * An object of its own, not in probe.bpf.c: libbpf resolves an object's kfunc externs at load,
 * whichever programs load, and where the kfunc is not in vmlinux it searches the modules' BTF,
 * which a process without CAP_SYS_ADMIN may not list. That fails the whole object, so in
 * probe.bpf.c it took every other probe down with it (measured on Debian 6.1 as nobody with
 * CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN). Never armed.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "include/sock_iter.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("iter/tcp")
int probe_sock_destroy(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (skc && skc->skc_state == 0xff) /* never: the probe destroys nothing */
		bpf_sock_destroy(skc);
	return 0;
}
