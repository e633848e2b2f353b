// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Syscall faults through BPF LSM programs (needs `bpf` in the active LSM list: Debian, Fedora,
 * RHEL, Arch). file_open is sleepable (lsm.s/) so it may resolve paths with bpf_d_path;
 * file_permission is not sleepable, so match.fd on read/write needs security.bpf.c. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define FL_HOOK(hook, fn) SEC("lsm/" #hook)
#define FL_PATH_HOOK(hook, fn) SEC("lsm.s/" #hook)
#define FL_PREV(ctx, nargs) ((int)(ctx)[nargs])
#define FL_D_PATH_OPEN 1
#define FL_D_PATH_PERMISSION 0
#include "include/lsm_hooks.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
