/* SPDX-License-Identifier: GPL-2.0 */
/*
 * firewall.h - stateful firewall rule evaluation for the first packet of a
 * flow (later packets hit the session). Terms of a service set are a
 * contiguous slice of ns_fw_terms; the first matching term wins.
 */
#ifndef NATSYNC_BPF_FIREWALL_H
#define NATSYNC_BPF_FIREWALL_H

#include "bpf/maps.h"

/*
 * The term walks are global (noinline, non-static) functions: the verifier
 * checks each once on its own rather than once per call site and path,
 * which keeps the programs well below its instruction limit. Arguments of
 * global functions may be NULL as far as the verifier knows, hence the
 * checks.
 */

/**
 * ns_fw_eval_g() - first matching firewall term of a service set.
 * @svc: the service set; @t: packet tuple; @dir: NS_DIR_INPUT/NS_DIR_OUTPUT.
 * Return: (action << 16) | compiled term index, or -1 when none matches.
 */
__attribute__((noinline)) int ns_fw_eval_g(const struct ns_svc *svc, const struct ns_tuple *t,
					   __u32 dir)
{
	__u32 i, idx;

	if (!svc || !t)
		return -1;
	for (i = 0; i < NS_MAX_FW_TERMS; i++) {
		struct ns_fw_term *ft;

		if (i >= svc->fw_count)
			break;
		idx = svc->fw_first + i;
		ft = ns_fw_term_at(svc, idx);
		if (!ft)
			break;
		if (ns_match_tuple(&ft->m, t, dir))
			return (int)(((__u32)ft->action << 16) | (idx & 0xffff));
	}
	return -1;
}

/**
 * ns_fw_eval() - first matching firewall term of a service set.
 * @action: out, enum ns_fw_action of the matching term.
 * Return: compiled term index, or -1 when no term matches.
 */
static __always_inline int ns_fw_eval(const struct ns_svc *svc, const struct ns_tuple *t, __u8 dir,
				      __u8 *action)
{
	int r = ns_fw_eval_g(svc, t, dir);

	if (r < 0)
		return -1;
	*action = r >> 16;
	return r & 0xffff;
}

/**
 * ns_nat_eval_g() - first matching NAT term of a service set.
 * Return: compiled term index, or -1 when none matches.
 */
__attribute__((noinline)) int ns_nat_eval_g(const struct ns_svc *svc, const struct ns_tuple *t,
					    __u32 dir)
{
	__u32 i, idx;

	if (!svc || !t)
		return -1;
	for (i = 0; i < NS_MAX_NAT_TERMS; i++) {
		struct ns_nat_term *nt;

		if (i >= svc->nat_count)
			break;
		idx = svc->nat_first + i;
		nt = ns_nat_term_at(svc, idx);
		if (!nt)
			break;
		if (ns_match_tuple(&nt->m, t, dir))
			return idx;
	}
	return -1;
}

/**
 * ns_svc_pool_addr_g() - is @addr an address of one of the service set's
 * source pools (an outside address natsync translates to)?
 * @svc: the service set; @addr: network order.
 * Return: 1 if it is, 0 if not.
 *
 * Such an address belongs to the NAT, never to the box's own stack: an
 * unsolicited packet to it must be dropped (RFC 5382: no answer to an
 * unsolicited SYN), not handed to the kernel, which would treat it as
 * "local" when no route covers the pool and answer with an ICMP error.
 * Only the slow path (a packet without session) pays this walk.
 */
__attribute__((noinline)) int ns_svc_pool_addr_g(const struct ns_svc *svc, __be32 addr)
{
	__u32 i, idx, pool_id, a = bpf_ntohl(addr), pos;

	if (!svc)
		return 0;
	for (i = 0; i < NS_MAX_NAT_TERMS; i++) {
		struct ns_nat_term *nt;
		struct ns_pool *pool;

		if (i >= svc->nat_count)
			break;
		idx = svc->nat_first + i;
		nt = ns_nat_term_at(svc, idx);
		if (!nt)
			break;
		pool_id = nt->src_pool;
		if (pool_id >= NS_MAX_POOLS)
			continue;
		pool = ns_pool_at(svc->bank, pool_id);
		if (pool && !ns_pool_addr_index(pool, a, &pos))
			return 1;
	}
	return 0;
}

#endif /* NATSYNC_BPF_FIREWALL_H */
