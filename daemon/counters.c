// SPDX-License-Identifier: GPL-2.0
/* counters.c - per-CPU counter summing and names (see counters.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "counters.h"
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
};
_Static_assert(NS_CNT_PBA_NO_BLOCK == NS_CNT_MAX - 1,
	       "a counter was added to enum ns_counter: name it in counters.c");

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
