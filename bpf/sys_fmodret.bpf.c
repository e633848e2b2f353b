// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Any syscall, through fmod_ret on its entry (__x64_sys_<name>): needs BPF trampolines and
 * CONFIG_FUNCTION_ERROR_INJECTION (Ubuntu, Arch, Amazon Linux, RHEL, the fei-6.12 kernel).
 * An fmod_ret program is bound to one function at load, so user space loads this object once
 * per syscall, with the target set before load.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "include/syscall.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Returns `long`, not `int`: the value replaces the syscall's 64-bit return, and an int would
 * be zero-extended (-5 would reach user space as 4294967291, and glibc would not set errno). */
SEC("fmod_ret")
long fl_sys_fmodret(unsigned long long *ctx)
{
	struct fl_target *t = fl_current_fault_target();
	if (!t)
		return 0;
	struct fl_call call = {};
	fl_sys_call(&call, (struct pt_regs___fl *)ctx[0], 0, 0);
	return fl_eval(&call, t);
}
