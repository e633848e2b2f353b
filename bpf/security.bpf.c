// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Syscall faults through fmod_ret on the security_* LSM functions (BPF trampolines; no BPF
 * LSM needed: Ubuntu and every BTF kernel >= 5.7 that allows fmod_ret). bpf_d_path is allowed
 * in security_file_open and security_file_permission. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define FL_HOOK(hook, fn) SEC("fmod_ret/" #fn)
#define FL_PATH_HOOK(hook, fn) SEC("fmod_ret/" #fn)
#define FL_PREV(ctx, nargs) 0
#define FL_D_PATH_OPEN 1
#define FL_D_PATH_PERMISSION 1
#include "include/lsm_hooks.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
