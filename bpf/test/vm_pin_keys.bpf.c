/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test-only (built by bpf/Makefile into test/fixtures/bin/, never shipped): empty programs on
 * every hot kernel hook faultline attaches to, held attached for a VM's whole test run by
 * test/vm/pin-keys.mjs. Each of these hooks sits behind a static key that the kernel patches
 * (text_poke) when its first program comes or its last one goes (and a tracepoint's static call
 * when its count goes between one and two); under QEMU's multi-threaded TCG
 * a vCPU can run a stale translation of the patched code and oops on the int3 (seen at
 * __alloc_pages and at syscall_exit_to_user_mode_prepare, raw_syscalls:sys_exit's key, in
 * debian-6.12 runs). With one program always there, no key ever drops back to zero, so the
 * test processes coming and going never patch those sites. Every program changes nothing.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tracepoints: process tracking (fork, exec, exit), syscall delay (sys_exit) and explore's call
 * sites (sys_enter, attached for each census by site). Two on each: a
 * tracepoint's call site is a static call too, aimed straight at the probe while there is one and
 * at the iterator from two on, so with two held it never changes as faultline's come and go
 * (debian-6.12 oopsed on that call site, at syscall_exit_to_user_mode_prepare, with one held). */
SEC("tp_btf/sched_process_fork") int pin_fork(void *ctx) { return 0; }
SEC("tp_btf/sched_process_fork") int pin_fork2(void *ctx) { return 0; }
SEC("tp_btf/sched_process_exec") int pin_exec(void *ctx) { return 0; }
SEC("tp_btf/sched_process_exec") int pin_exec2(void *ctx) { return 0; }
SEC("tp_btf/sched_process_exit") int pin_exit(void *ctx) { return 0; }
SEC("tp_btf/sched_process_exit") int pin_exit2(void *ctx) { return 0; }
SEC("tp_btf/sys_exit") int pin_sys_exit(void *ctx) { return 0; }
SEC("tp_btf/sys_exit") int pin_sys_exit2(void *ctx) { return 0; }
SEC("tp_btf/sys_enter") int pin_sys_enter(void *ctx) { return 0; }
SEC("tp_btf/sys_enter") int pin_sys_enter2(void *ctx) { return 0; }

/* cgroup hooks (one static key per attach type), on an empty cgroup: 1 = let the call through. */
SEC("cgroup/connect4") int pin_connect4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/connect6") int pin_connect6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg4") int pin_sendmsg4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sendmsg6") int pin_sendmsg6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/bind4") int pin_bind4(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/bind6") int pin_bind6(struct bpf_sock_addr *ctx) { return 1; }
SEC("cgroup/sock_create") int pin_sock_create(struct bpf_sock *sk) { return 1; }
SEC("cgroup/setsockopt") int pin_setsockopt(struct bpf_sockopt *ctx) { return 1; }
SEC("cgroup/getsockopt") int pin_getsockopt(struct bpf_sockopt *ctx) { return 1; }
