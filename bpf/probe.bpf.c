// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Feature probes: the smallest program of each kind faultline may use. The kernel module of
 * @faultline/core loads (and where it matters attaches) one at a time to ask the running
 * kernel "can you do this?", the way cilium/ebpf's features package does. Never armed.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_process_fork")
int BPF_PROG(probe_tp_btf) { return 0; }

/* cgroup sock_addr hooks that can choose the errno (bpf_set_retval, kernel >= 5.18/6.1).
 * The probe attaches it to the root cgroup for a moment, where it runs after the programs of
 * every cgroup below (another faultline process's faults among them): it must change nothing.
 * It writes back the retval those set; setting 0 undid their refusal (a fault that never fired). */
SEC("cgroup/connect4")
int probe_cgroup_sockaddr(struct bpf_sock_addr *ctx)
{
	bpf_set_retval(bpf_get_retval());
	return 1;
}

/* Attached as tcx (bpf_link_create) or through cls_bpf. 0 = pass (TC_ACT_OK / TCX_PASS). */
SEC("tc")
int probe_tc(struct __sk_buff *skb) { return 0; }

/* bpf_override_return is only accepted with CONFIG_BPF_KPROBE_OVERRIDE; the attach target
 * (a syscall entry) is given at attach time. */
SEC("kprobe")
int probe_kprobe_override(struct pt_regs *ctx)
{
	bpf_override_return(ctx, 0);
	return 0;
}

/* fmod_ret on a syscall entry: needs trampolines and CONFIG_FUNCTION_ERROR_INJECTION.
 * The target (__x64_sys_close / __arm64_sys_close) is set before load. */
SEC("fmod_ret")
int BPF_PROG(probe_fmod_ret_syscall) { return 0; }

/* lsm/ programs: need `bpf` in the active LSM list. */
SEC("lsm/socket_create")
int BPF_PROG(probe_lsm, int family, int type, int protocol, int kern) { return 0; }

/* fmod_ret on an LSM hook: trampolines, no BPF LSM needed. */
SEC("fmod_ret/security_socket_create")
int BPF_PROG(probe_security_fmod_ret, int family, int type, int protocol, int kern) { return 0; }

/* fexit (BPF trampolines, as fentry): the target (__x64_sys_getppid / __arm64_sys_getppid) is
 * set before load. Corrupted reads use fexit on the read syscalls. */
SEC("fexit")
int BPF_PROG(probe_fexit) { return 0; }

/* bpf_probe_write_user: needs CAP_SYS_ADMIN and no lockdown (LOCKDOWN_BPF_WRITE_USER); only
 * loaded, never attached. Loading it prints the kernel's "may corrupt user memory" warning. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(probe_write_user)
{
	char c = 0;
	bpf_probe_write_user((void *)0, &c, 0 * sizeof(c) + 1);
	return 0;
}
