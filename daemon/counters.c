// SPDX-License-Identifier: GPL-2.0
/* counters.c - per-CPU counter summing and names (see counters.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "counters.h"
#include "daemon.h"
#include "util.h"

/* Designated initializers keep names tied to the enum even if it is
 * reordered; the assertion catches a counter added without a name. */
static const char *const counter_names[NS_CNT_MAX] = {
	[NS_CNT_RX] = "rx",
	[NS_CNT_PASS_NON_IP] = "pass_non_ip",
	[NS_CNT_PASS_LOCAL] = "pass_local",
	[NS_CNT_PASS_NO_SVC] = "pass_no_svc",
	[NS_CNT_PASS_TTL] = "pass_ttl",
	[NS_CNT_PASS_UNTRACKED] = "pass_untracked",
	[NS_CNT_FWD_REDIRECT] = "fwd_redirect",
	[NS_CNT_FWD_STACK] = "fwd_stack",
	[NS_CNT_TX_REJECT] = "tx_reject",
	[NS_CNT_DROP_MALFORMED] = "drop_malformed",
	[NS_CNT_DROP_FRAGMENT] = "drop_fragment",
	[NS_CNT_DROP_NO_SESSION] = "drop_no_session",
	[NS_CNT_DROP_TCP_NO_SYN] = "drop_tcp_no_syn",
	[NS_CNT_DROP_FW_DISCARD] = "drop_fw_discard",
	[NS_CNT_DROP_POOL_EXHAUSTED] = "drop_pool_exhausted",
	[NS_CNT_DROP_SESSION_FULL] = "drop_session_full",
	[NS_CNT_DROP_INACTIVE] = "drop_inactive",
	[NS_CNT_DROP_ICMP_ERR] = "drop_icmp_err",
	[NS_CNT_DROP_UNSUPPORTED] = "drop_unsupported",
	[NS_CNT_SESSION_HIT] = "session_hit",
	[NS_CNT_SESSION_NEW] = "session_new",
	[NS_CNT_SESSION_RACE] = "session_race",
	[NS_CNT_NAT_ALLOC] = "nat_alloc",
	[NS_CNT_EIM_REUSE] = "eim_reuse",
	[NS_CNT_EIF_INBOUND] = "eif_inbound",
	[NS_CNT_ICMP_ERR_XLATED] = "icmp_err_xlated",
	[NS_CNT_EVENT_LOST] = "event_lost",
	[NS_CNT_DROP_SUBSCRIBER_LIMIT] = "drop_subscriber_limit",
	[NS_CNT_DROP_IPV6_EXTHDR] = "drop_ipv6_exthdr",
	[NS_CNT_NAT64_OUT] = "nat64_out",
	[NS_CNT_NAT64_IN] = "nat64_in",
	[NS_CNT_FRAG_HELD] = "frag_held",
	[NS_CNT_FRAG_FIRST] = "frag_first",
	[NS_CNT_FRAG_XLATED] = "frag_xlated",
	[NS_CNT_FRAG_UNKNOWN] = "frag_unknown",
	[NS_CNT_FRAG_TRACK_FULL] = "frag_track_full",
	[NS_CNT_FRAG_HOLD_FULL] = "frag_hold_full",
	[NS_CNT_FRAG_TIMEOUT] = "frag_timeout",
	[NS_CNT_PBA_BLOCK_NEW] = "pba_block_new",
	[NS_CNT_PBA_MAX_BLOCKS] = "pba_max_blocks",
	[NS_CNT_PBA_NO_BLOCK] = "pba_no_block",
	[NS_CNT_SYN_HELD] = "syn_held",
	[NS_CNT_SYN_HOLD_FULL] = "syn_hold_full",
};
_Static_assert(NS_CNT_SYN_HOLD_FULL == NS_CNT_MAX - 1,
	       "a counter was added to enum ns_counter: name it in counters.c");

/* What each counter counts (the metrics' HELP lines; doc/fastpath.md). */
static const char *const counter_help[NS_CNT_MAX] = {
	[NS_CNT_RX] = "packets the fast path received (each ends in one verdict counter)",
	[NS_CNT_PASS_NON_IP] = "passed to the kernel: ARP, IPv6 without a NAT64 rule, other ethertypes",
	[NS_CNT_PASS_LOCAL] = "passed to the kernel: destined to the box itself",
	[NS_CNT_PASS_NO_SVC] = "passed to the kernel: interface in no service set",
	[NS_CNT_PASS_TTL] = "passed to the kernel: TTL <= 1 (it answers time exceeded)",
	[NS_CNT_PASS_UNTRACKED] = "passed to the kernel: a protocol natsync does not track",
	[NS_CNT_FWD_REDIRECT] = "forwarded: fib lookup and redirect",
	[NS_CNT_FWD_STACK] = "translated and handed to the kernel to forward",
	[NS_CNT_TX_REJECT] = "firewall reject: TCP RST or ICMP unreachable sent back",
	[NS_CNT_DROP_MALFORMED] = "dropped: truncated or invalid header",
	[NS_CNT_DROP_FRAGMENT] = "dropped: non-first IPv4 fragment without a session",
	[NS_CNT_DROP_NO_SESSION] = "dropped: unsolicited inbound, no session",
	[NS_CNT_DROP_TCP_NO_SYN] = "dropped: first packet of a TCP session not a SYN",
	[NS_CNT_DROP_FW_DISCARD] = "dropped: firewall discard (or no term matched)",
	[NS_CNT_DROP_POOL_EXHAUSTED] = "dropped: no free address or port in the pool",
	[NS_CNT_DROP_SESSION_FULL] = "dropped: session map full, insert failed",
	[NS_CNT_DROP_INACTIVE] = "dropped: this box is not active (backup or init)",
	[NS_CNT_DROP_ICMP_ERR] = "dropped: ICMP error with a bad checksum or no session",
	[NS_CNT_DROP_UNSUPPORTED] = "dropped: protocol or feature not handled",
	[NS_CNT_SESSION_HIT] = "packets that found their session",
	[NS_CNT_SESSION_NEW] = "sessions created",
	[NS_CNT_SESSION_RACE] = "session creations another CPU won",
	[NS_CNT_NAT_ALLOC] = "outside addresses/ports bound",
	[NS_CNT_EIM_REUSE] = "existing endpoint-independent mappings reused",
	[NS_CNT_EIF_INBOUND] = "inbound sessions opened through endpoint-independent filtering",
	[NS_CNT_ICMP_ERR_XLATED] = "ICMP errors translated",
	[NS_CNT_EVENT_LOST] = "events dropped: ring buffer full",
	[NS_CNT_DROP_SUBSCRIBER_LIMIT] = "dropped: max-sessions-per-subscriber reached",
	[NS_CNT_DROP_IPV6_EXTHDR] = "dropped: NAT64, IPv6 extension header not handled",
	[NS_CNT_NAT64_OUT] = "NAT64: IPv6 packets translated to IPv4",
	[NS_CNT_NAT64_IN] = "NAT64: IPv4 packets translated to IPv6",
	[NS_CNT_FRAG_HELD] = "fragments held until their first fragment arrives",
	[NS_CNT_FRAG_FIRST] = "first fragments translated and tracked",
	[NS_CNT_FRAG_XLATED] = "later fragments translated as their first",
	[NS_CNT_FRAG_UNKNOWN] = "later fragments without a known first one",
	[NS_CNT_FRAG_TRACK_FULL] = "datagrams not tracked: fragment table full",
	[NS_CNT_FRAG_HOLD_FULL] = "fragments not held: hold limit reached",
	[NS_CNT_FRAG_TIMEOUT] = "tracked datagrams still incomplete at their timeout",
	[NS_CNT_PBA_BLOCK_NEW] = "port blocks given to subscribers",
	[NS_CNT_PBA_MAX_BLOCKS] = "sessions refused: active block full and max-blocks-per-address reached",
	[NS_CNT_PBA_NO_BLOCK] = "sessions refused: no free port block left on the subscriber's address",
	[NS_CNT_SYN_HELD] = "IPv4-initiated NAT64 SYNs refused by filtering, held 6 s (RFC 6146 3.5.2.2)",
	[NS_CNT_SYN_HOLD_FULL] = "IPv4-initiated NAT64 SYNs not held: ring full, dropped",
};

/* A counter added to enum ns_counter needs its HELP line here too (the
 * metrics' test, metrics_render/a_line_per_counter, checks every one). */
_Static_assert(NS_CNT_SYN_HOLD_FULL == NS_CNT_MAX - 1,
	       "a counter was added to enum ns_counter: give it a HELP line in counters.c");

const char *ns_counter_help(int idx)
{
	if (idx < 0 || idx >= NS_CNT_MAX || !counter_help[idx])
		return "";
	return counter_help[idx];
}

const char *ns_counter_name(int idx)
{
	if (idx < 0 || idx >= NS_CNT_MAX)
		return NULL;
	return counter_names[idx];
}

int ns_counter_by_name(const char *name)
{
	for (int i = 0; i < NS_CNT_MAX; i++)
		if (counter_names[i] && !strcmp(counter_names[i], name))
			return i;
	return -1;
}

/* Sum one per-CPU value of n_vals u64 slots into out[first..]. */
static int sum_key(int fd, uint32_t key, int ncpu, size_t stride, uint64_t *vals,
		   uint64_t *out, unsigned int n_vals)
{
	if (bpf_map_lookup_elem(fd, &key, vals))
		return -errno;
	for (int cpu = 0; cpu < ncpu; cpu++) {
		const uint64_t *v = (const uint64_t *)((const char *)vals + cpu * stride);

		for (unsigned int i = 0; i < n_vals; i++)
			out[i] += v[i];
	}
	return 0;
}

int ns_counters_read(int map_fd, uint64_t out[NS_CNT_MAX])
{
	struct bpf_map_info info = {0};
	uint32_t info_len = sizeof(info);
	uint64_t *vals;
	size_t stride;
	int ncpu, err = 0;

	memset(out, 0, sizeof(uint64_t) * NS_CNT_MAX);
	if (bpf_obj_get_info_by_fd(map_fd, &info, &info_len))
		return -errno;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	/* The kernel copies per-CPU values in 8-byte aligned slots. */
	stride = (info.value_size + 7) & ~7u;
	vals = calloc(ncpu, stride);
	if (!vals)
		return -ENOMEM;
	if (info.value_size == sizeof(uint64_t)) {
		uint32_t n = info.max_entries < NS_CNT_MAX ? info.max_entries : NS_CNT_MAX;

		for (uint32_t k = 0; k < n && !err; k++)
			err = sum_key(map_fd, k, ncpu, stride, vals, &out[k], 1);
	} else if (info.value_size >= sizeof(uint64_t) * NS_CNT_MAX) {
		err = sum_key(map_fd, 0, ncpu, stride, vals, out, NS_CNT_MAX);
	} else {
		err = -EPROTO;
	}
	free(vals);
	if (err)
		memset(out, 0, sizeof(uint64_t) * NS_CNT_MAX);
	return err;
}

/* The daemon's statistics (struct ns_daemon_stats), for show counters and
 * the metrics: name, where, whether it only grows, what it is. */
const struct ns_stat_field ns_daemon_stat_fields[] = {
#define ST(f, c, h) { #f, offsetof(struct ns_daemon_stats, f), c, h }
	ST(aging_passes, true, "aging cycles run"),
	ST(aging_last_ns, false, "duration of the last aging cycle (ns)"),
	ST(sessions_seen, false, "IPv4 sessions at the last aging cycle"),
	ST(sessions_expired, true, "sessions expired by aging"),
	ST(bindings_live, false, "NAT bindings (ns_ports entries) at the last aging cycle"),
	ST(bindings_released, true, "NAT ports moved to their hold time or freed"),
	ST(events_logged, true, "fast-path events logged"),
	ST(reloads, true, "configuration reloads applied"),
	ST(reload_failures, true, "configuration reloads refused"),
	ST(map_full_warnings, true, "warnings that the session map is nearly full"),
	ST(events_suppressed, true, "rate-limited warnings not logged"),
	ST(aging_errors, true, "map operations that failed in aging"),
	ST(nat_released, true, "NAT bindings deleted after their hold time"),
	ST(nat64_sessions_seen, false, "NAT64 sessions at the last aging cycle"),
	ST(aging_deferred, true, "sweep records left for a later aging cycle"),
	ST(aging_slices, false, "in-kernel sweep runs (slices) in the last aging cycle"),
	ST(aging_slice_max_ns, false, "the last aging cycle's longest sweep slice (ns)"),
	ST(aging_slice_restarts, true, "sliced aging walks restarted: their resume key was deleted"),
	ST(aging_unsliced_walks, true, "aging walks run unsliced after too many restarts"),
	ST(reloads_deferred, true, "reloads applied by the reload timer, not at once"),
	ST(ipfix_records, true, "IPFIX records encoded"),
	ST(ipfix_templates, true, "IPFIX template sets sent (start, refresh)"),
	ST(ipfix_messages, true, "IPFIX messages sent, per collector"),
	ST(ipfix_drops, true, "IPFIX messages dropped: socket buffer full"),
	ST(ipfix_send_errors, true, "IPFIX sends or encodings that failed otherwise"),
	ST(ipfix_unresolved, true, "IPFIX NAT64 events whose IPv6 side was gone"),
	ST(sessions_cleared, true, "sessions deleted by natsyncctl clear sessions"),
#undef ST
};
const size_t ns_n_daemon_stat_fields = NS_ARRAY_SIZE(ns_daemon_stat_fields);

uint64_t ns_daemon_stat_value(const struct ns_daemon_stats *st, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)st + ns_daemon_stat_fields[i].off, sizeof(v));
	return v;
}
