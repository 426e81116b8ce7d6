/* SPDX-License-Identifier: GPL-2.0 */
/*
 * counters.h - per-CPU counters. Every packet bumps NS_CNT_RX once and its
 * verdict counter once (the pipeline returns the verdict counter and the
 * entry point counts it), so rx == sum(verdicts) always holds.
 */
#ifndef NATSYNC_BPF_COUNTERS_H
#define NATSYNC_BPF_COUNTERS_H

#include "bpf/maps.h"

/* A stage's "no verdict yet, go on" (NS_CNT_RX: never a verdict). */
#define NS_CONTINUE 0

/* Add one to counter @idx of this CPU (no atomics needed: per-CPU). */
static __always_inline void ns_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&ns_counters, &idx);

	if (v)
		*v += 1;
}

#endif /* NATSYNC_BPF_COUNTERS_H */
