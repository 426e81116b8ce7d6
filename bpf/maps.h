/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.h - every map of the fast path, BTF-typed so bpftool dumps typed
 * values. Names and layouts come from common/natsync.h. The hash maps are
 * preallocated (no LRU: a NAT must never evict a binding by itself); the
 * daemon sets max_entries of the session/binding maps before load, the
 * values here are the defaults.
 */
#ifndef NATSYNC_BPF_MAPS_H
#define NATSYNC_BPF_MAPS_H

#include "bpf/ctx.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SESSIONS_DEFAULT);
	__type(key, struct ns_tuple); /* in_key */
	__type(value, struct ns_session);
} ns_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SESSIONS_DEFAULT);
	__type(key, struct ns_tuple);	/* out_key */
	__type(value, struct ns_tuple); /* in_key */
} ns_session_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SESSIONS_DEFAULT);
	__type(key, struct ns_port_key);
	__type(value, struct ns_port_val);
} ns_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SESSIONS_DEFAULT);
	__type(key, struct ns_eim_key);
	__type(value, struct ns_eim_val);
} ns_eim SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SESSIONS_DEFAULT);
	__type(key, struct ns_paired_key);
	__type(value, struct ns_paired_val);
} ns_paired SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_MAX_POOLS * NS_CFG_BANKS);
	__type(key, __u32);
	__type(value, struct ns_pool);
} ns_pools SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_MAX_POOLS);
	__type(key, __u32);
	__type(value, struct ns_pool_state);
} ns_pool_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_MAX_SVC_SETS * NS_CFG_BANKS);
	__type(key, __u32);
	__type(value, struct ns_svc);
} ns_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_MAX_FW_TERMS * NS_CFG_BANKS);
	__type(key, __u32);
	__type(value, struct ns_fw_term);
} ns_fw_terms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_MAX_NAT_TERMS * NS_CFG_BANKS);
	__type(key, __u32);
	__type(value, struct ns_nat_term);
} ns_nat_terms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_IFACES);
	__type(key, __u32); /* ifindex */
	__type(value, struct ns_iface);
} ns_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_CFG_SLOTS);
	__type(key, __u32);
	__type(value, struct ns_cfg);
} ns_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NS_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ns_counters SEC(".maps");

/* Egress ports the fast path may redirect to: key ifindex, value ifindex
 * (4-byte value, no devmap program). Written by the daemon from inside the
 * box's network namespace. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, NS_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} ns_tx_ports SEC(".maps");

/* max-sessions-per-subscriber: sessions the fast path opened per
 * subscriber (only it writes) and sessions the daemon deleted of those
 * (only it writes); see struct ns_sub_key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SUBSCRIBERS);
	__type(key, struct ns_sub_key);
	__type(value, __u64);
} ns_sub_created SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SUBSCRIBERS);
	__type(key, struct ns_sub_key);
	__type(value, __u64);
} ns_sub_closed SEC(".maps");

/* Stateful NAT64 (see struct ns_tuple6): sessions keyed by the IPv6 tuple,
 * the reverse map from the IPv4 out_key, and the compiled terms. The
 * daemon sizes the session maps by max-sessions when NAT64 is configured
 * (NS_NAT64_SESSIONS_IDLE entries otherwise). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SESSIONS_DEFAULT);
	__type(key, struct ns_tuple6);
	__type(value, struct ns_session);
} ns_nat64_sess SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NS_MAX_SESSIONS_DEFAULT);
	__type(key, struct ns_tuple);	 /* out_key */
	__type(value, struct ns_tuple6); /* ns_nat64_sess key */
} ns_nat64_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NS_MAX_NAT64_TERMS * NS_CFG_BANKS);
	__type(key, __u32);
	__type(value, struct ns_nat64_term);
} ns_nat64_terms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NS_EVENTS_RINGBUF_BYTES);
} ns_events SEC(".maps");

/* ---- banked config lookups (see NS_CFG_BANKS in common/natsync.h) ---- */

/* Pool @pool_id (bank-relative) of config bank @bank, or NULL. */
static __always_inline struct ns_pool *ns_pool_at(__u32 bank, __u32 pool_id)
{
	__u32 k = (bank & 1) * NS_MAX_POOLS + pool_id;

	if (pool_id >= NS_MAX_POOLS)
		return NULL;
	return bpf_map_lookup_elem(&ns_pools, &k);
}

/* NAT term @idx (bank-relative) of @svc's bank, or NULL. */
static __always_inline struct ns_nat_term *ns_nat_term_at(const struct ns_svc *svc, __u32 idx)
{
	__u32 k = (svc->bank & 1) * NS_MAX_NAT_TERMS + idx;

	if (idx >= NS_MAX_NAT_TERMS)
		return NULL;
	return bpf_map_lookup_elem(&ns_nat_terms, &k);
}

/* Firewall term @idx (bank-relative) of @svc's bank, or NULL. */
static __always_inline struct ns_fw_term *ns_fw_term_at(const struct ns_svc *svc, __u32 idx)
{
	__u32 k = (svc->bank & 1) * NS_MAX_FW_TERMS + idx;

	if (idx >= NS_MAX_FW_TERMS)
		return NULL;
	return bpf_map_lookup_elem(&ns_fw_terms, &k);
}

#endif /* NATSYNC_BPF_MAPS_H */
