// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Any syscall, through a kprobe on its entry (__x64_sys_<name>) and bpf_override_return:
 * needs CONFIG_BPF_KPROBE_OVERRIDE (Ubuntu, Arch, Amazon Linux, the fei-6.12 kernel). One
 * program, attached to every syscall entry the rules name.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "include/syscall.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("kprobe")
int fl_sys_kprobe(struct pt_regs *ctx)
{
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 0;
	struct fl_call call = {};
	/* __x64_sys_<name>(const struct pt_regs *regs): the user registers are its first argument. */
	fl_sys_call(&call, (struct pt_regs___fl *)PT_REGS_PARM1(ctx), 0, 0);
	long ret = fl_eval(&call, t);
	if (ret)
		bpf_override_return(ctx, ret); /* a u64 argument: the sign survives */
	return 0;
}
