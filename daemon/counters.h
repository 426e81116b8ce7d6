/* SPDX-License-Identifier: GPL-2.0 */
/*
 * counters.h - the fast path's per-CPU counters (enum ns_counter in
 * common/natsync.h) as userspace sees them: summed over CPUs, with stable
 * snake_case names shared by natsyncd, natsyncctl and the tests.
 */
#ifndef NATSYNC_COUNTERS_H
#define NATSYNC_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/natsync.h"

/*
 * ns_counters_read - sum every counter of the ns_counters map over all CPUs.
 * @map_fd: fd of ns_counters (per-CPU array: NS_CNT_MAX entries of __u64,
 *          or one entry holding __u64[NS_CNT_MAX]; both layouts are read)
 * @out:    filled with the sums, indexed by enum ns_counter
 * Returns 0, or -errno (out is zeroed on error).
 */
int ns_counters_read(int map_fd, uint64_t out[NS_CNT_MAX]);

/*
 * ns_counter_name - stable name of a counter ("rx", "drop_no_session", ...),
 * used as JSON keys and column names. NULL for an index out of range.
 */
const char *ns_counter_name(int idx);

/* ns_counter_help - one line saying what counter idx counts ("" if none). */
const char *ns_counter_help(int idx);

/* ns_counter_by_name - index of a counter name, or -1 if unknown. */
int ns_counter_by_name(const char *name);

struct ns_daemon_stats;

/* One field of struct ns_daemon_stats (daemon.h), as shown and exported. */
struct ns_stat_field {
	const char *name;     /* "aging_passes": show counters' key */
	size_t off;           /* offsetof(struct ns_daemon_stats, ...), a uint64_t */
	bool counter;         /* only grows (else a gauge: a figure of the last pass) */
	const char *help;
};
extern const struct ns_stat_field ns_daemon_stat_fields[];
extern const size_t ns_n_daemon_stat_fields;

/* The value of field i of st. */
uint64_t ns_daemon_stat_value(const struct ns_daemon_stats *st, size_t i);

#endif
