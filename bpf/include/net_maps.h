/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The network fault maps, declared by net.bpf.c (the TC programs and the socket marking) and by
 * reset.bpf.c (the connection reset iterator), which user space hands net.bpf.o's maps
 * (bpf_map__reuse_fd): one set per faultline instance.
 */
#ifndef FAULTLINE_NET_MAPS_H
#define FAULTLINE_NET_MAPS_H

#include "faultline.h"
#include "net.h"

/* Sockets of the target set: storage present = marked (freed with the socket); the value is the
 * comm bits (fl_target.comm_bits) of every target that marked it, for rules with `comm`.
 * BPF_F_CLONE: a connection accepted on a targeted listener inherits the mark (a server in the
 * target set). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, __u32);
} fl_net_socks SEC(".maps");

/* ifindex -> fl_net_dev, written at attach for every interface the TC programs are on. A packet
 * on an interface without an entry is left alone. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* hosts with many containers have many veths */
	__type(key, __u32);
	__type(value, struct fl_net_dev);
} fl_net_devs SEC(".maps");

/* rule index -> fl_net_rule; rule index -> fl_counters; [0] -> fl_net_state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_NET_RULES);
	__type(key, __u32);
	__type(value, struct fl_net_rule);
} fl_net_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_NET_RULES);
	__type(key, __u32);
	__type(value, struct fl_counters);
} fl_net_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_net_state);
} fl_net_state SEC(".maps");

/* (rule, family, peer address/prefix) -> 1: the rule's hosts, and the rule's allow list. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct fl_net_lpm_key);
	__type(value, __u8);
} fl_net_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct fl_net_lpm_key);
	__type(value, __u8);
} fl_net_allow SEC(".maps");

/* (rule, flow) -> its index among the rule's flows: `when.nth` counts connections, not packets
 * (flows.h). LRU: a flow idle while many newer ones came may be evicted and counted again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fl_net_flow_key);
	__type(value, struct fl_net_flow_val);
} fl_net_flows SEC(".maps");

/* rule index -> eligible packets so far: the index of a seeded draw (eligible counts flows). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FL_MAX_NET_RULES);
	__type(key, __u32);
	__type(value, __u64);
} fl_net_draws SEC(".maps");

#endif
