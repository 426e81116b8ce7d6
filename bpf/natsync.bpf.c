// SPDX-License-Identifier: GPL-2.0
/*
 * natsync.bpf.c - the fast path's entry points. All logic lives in the
 * headers (included in a fixed order by bpf/pipeline.h); the programs are
 * the same pipeline compiled for their context:
 *
 *  natsync_xdp  XDP on the ingress of every inside and outside interface;
 *  natsync_tc   the same pipeline on clsact ingress ("attach mode tc") for
 *               interfaces where XDP is not wanted or not possible (it also
 *               copes with CHECKSUM_PARTIAL skbs through the csum helpers).
 *  natsync_xdp_frag64, natsync_tc_frag64
 *               NAT64 fragments, reached by a tail call from the program
 *               above them (bpf/frag64.h: the main programs have no
 *               verifier budget left for them). Never attached.
 */
#include "bpf/pipeline.h"
#include "bpf/frag64.h"

SEC("xdp")
int natsync_xdp(struct xdp_md *ctx)
{
	return ns_run(ctx, false);
}

SEC("tc")
int natsync_tc(struct __sk_buff *skb)
{
	return ns_run(skb, true);
}

SEC("xdp")
int natsync_xdp_frag64(struct xdp_md *ctx)
{
	return ns_run_frag64(ctx, false);
}

SEC("tc")
int natsync_tc_frag64(struct __sk_buff *skb)
{
	return ns_run_frag64(skb, true);
}

char LICENSE[] SEC("license") = "GPL";
