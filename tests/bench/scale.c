// SPDX-License-Identifier: GPL-2.0
/*
 * scale.c - issue 5, part 3: what a big session table costs.
 *
 *  - kernel map memory per session: the kernel's own accounting of every map
 *    of the loaded fast path (the "memlock" line of /proc/self/fdinfo/<map
 *    fd>), summed and divided by max_entries; the maps are preallocated
 *    hashes, so this is the cost of the table whether it is full or not;
 *  - time to open + load (map allocation included) + pin + attach XDP to one
 *    interface, with the session maps sized to 1M and 10M;
 *  - one aging cycle of natsyncd's own ns_aging_pass() (daemon/aging.c: the
 *    in-kernel sweep, or the batch walk where it cannot load) run to
 *    completion over a table prefilled with live sessions: the
 *    steady-state scan (nothing expires), as a time, per session, and as
 *    the share of one core a full cycle every aging interval would need.
 *    natsyncd itself spreads a cycle over slices and caps it at 4 % of a
 *    core (doc/daemon.md); run.sh (daemon_scale.sh) measures that in a
 *    running natsyncd.
 * Run in the private netns of the test_run cases (BENCH_IF_IN exists there);
 * pins go to PIN_DIR (default /sys/fs/bpf/nsb-bench) and are removed again.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "nsmaps.h"
#include "daemon/aging.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/mapmem.h"
#include "daemon/util.h"

static double secs(uint64_t a, uint64_t b)
{
	return (double)(b - a) / 1e9;
}

/* Memory per session for a table of n entries: every map of the loaded
 * object, as the kernel accounts it (DESIGN.md: memory is every map). */
static void emit_memory(struct nsb *b, long n)
{
	static const char *const core[] = { NS_MAP_SESSIONS, NS_MAP_SESSION_REV, NS_MAP_PORTS };
	long long sum_core = 0, sum_all = 0, m;
	struct bpf_map *map;
	char how[512], note[256];
	int maps = 0;
	size_t i;

	bpf_object__for_each_map(map, nsb_obj(b)) {
		m = ns_map_memlock(bpf_map__fd(map));
		if (m < 0) {
			snprintf(note, sizeof(note), "error: no memlock in the fdinfo of %s",
				 bpf_map__name(map));
			bench_emit_na("scale", "kernel map memory per session, every map", n, note,
				      "<= 256");
			return;
		}
		sum_all += m;
		maps++;
	}
	for (i = 0; i < NS_ARRAY_SIZE(core); i++)
		sum_core += ns_map_memlock(nsb_map_fd(b, core[i]));
	snprintf(how, sizeof(how), "fdinfo memlock (kernel accounting) summed over all %d maps "
		 "of the loaded fast path, session maps sized max_entries %ld, / %ld", maps, n, n);
	snprintf(note, sizeof(note), "%.1f MiB in all; ns_sessions + ns_session_rev + ns_ports "
		 "alone: %.0f B/session", sum_all / 1048576.0, (double)sum_core / n);
	bench_emit_value("scale", "kernel map memory per session, every map", n, "B/session",
			 (double)sum_all / n, how, note, "<= 256");
}

/* Pin every map of b under dir and attach XDP to ifindex; returns 0 or -errno. */
static int pin_attach(struct nsb *b, const char *dir, int ifindex)
{
	int err;

	mkdir(dir, 0700);
	err = bpf_object__pin_maps(nsb_obj(b), dir);
	if (err)
		return err;
	err = bpf_xdp_attach(ifindex, nsb_prog_fd(b, false), XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		err = bpf_xdp_attach(ifindex, nsb_prog_fd(b, false), XDP_FLAGS_SKB_MODE, NULL);
	return err;
}

static void unpin_detach(struct nsb *b, const char *dir, int ifindex)
{
	bpf_xdp_detach(ifindex, 0, NULL);
	bpf_object__unpin_maps(nsb_obj(b), dir);
	rmdir(dir);
}

/*
 * Prefill n sessions and time `rounds` aging passes of natsyncd's
 * ns_aging_pass() over them (nothing is idle long enough to expire).
 */
static void emit_aging(struct nsb *b, const struct bench_opts *o, long n)
{
	struct ns_daemon d;
	double v[8];
	struct bench_stat st;
	char how[384], note[256];
	uint64_t t0, t1;
	int r, err;

	err = nsb_prefill(b, n);
	if (err) {
		bench_emit_na("scale", "aging cycle run to completion (ns_aging_pass)", n,
			      "error: prefill failed", NULL);
		return;
	}
	/* The table is full on purpose: natsyncd's "over 90%" warning is noise. */
	log_set_level(getenv("BENCH_AGING_DEBUG") ? NS_LOG_DEBUG : NS_LOG_ERR);
	memset(&d, 0, sizeof(d));
	d.aging_timer_fd = -1;
	ns_config_defaults(&d.conf);
	/* BENCH_AGING_SLICE=N: the sweep's aging-slice (a developer's knob) */
	if (getenv("BENCH_AGING_SLICE"))
		d.conf.aging_slice = (uint32_t)atol(getenv("BENCH_AGING_SLICE"));
	d.fd.sessions = nsb_map_fd(b, NS_MAP_SESSIONS);
	d.fd.session_rev = nsb_map_fd(b, NS_MAP_SESSION_REV);
	d.fd.ports = nsb_map_fd(b, NS_MAP_PORTS);
	d.fd.eim = nsb_map_fd(b, NS_MAP_EIM);
	d.fd.paired = nsb_map_fd(b, NS_MAP_PAIRED);
	d.fd.pools = nsb_map_fd(b, NS_MAP_POOLS);
	d.fd.pool_state = nsb_map_fd(b, NS_MAP_POOL_STATE);
	d.fd.svc = nsb_map_fd(b, NS_MAP_SVC);
	d.fd.fw_terms = nsb_map_fd(b, NS_MAP_FW_TERMS);
	d.fd.nat_terms = nsb_map_fd(b, NS_MAP_NAT_TERMS);
	d.fd.ifaces = nsb_map_fd(b, NS_MAP_IFACES);
	d.fd.config = nsb_map_fd(b, NS_MAP_CONFIG);
	d.fd.counters = nsb_map_fd(b, NS_MAP_COUNTERS);
	d.fd.tx_ports = nsb_map_fd(b, NS_MAP_TX_PORTS);
	d.fd.events = nsb_map_fd(b, NS_MAP_EVENTS);
	d.fd.nat64_sess = nsb_map_fd(b, NS_MAP_NAT64_SESS);
	d.fd.nat64_rev = nsb_map_fd(b, NS_MAP_NAT64_REV);
	d.fd.nat64_terms = nsb_map_fd(b, NS_MAP_NAT64_TERMS);
	/* A 10M pass takes seconds: three are enough for a median there. */
	for (r = 0; r < (n >= 10000000 ? 3 : o->rounds) && r < 8; r++) {
		t0 = ns_now();
		err = ns_aging_pass(&d, t0);
		t1 = ns_now();
		if (err) {
			snprintf(note, sizeof(note), "error: ns_aging_pass failed: %s", strerror(-err));
			bench_emit_na("scale", "aging cycle run to completion (ns_aging_pass)", n, note, NULL);
			return;
		}
		v[r] = secs(t0, t1) * 1e3;
	}
	bench_stat_of(v, r, &st);
	snprintf(how, sizeof(how), "natsyncd's ns_aging_pass() (%s, aging-slice %u) over %ld live "
		 "sessions (+ports, paired), wall clock, median of %d passes", ns_aging_engine(&d),
		 d.conf.aging_slice, n, r);
	snprintf(note, sizeof(note), "%llu sessions seen, %llu expired by the passes",
		 (unsigned long long)d.st.sessions_seen, (unsigned long long)d.st.sessions_expired);
	ns_aging_fini(&d); /* unload the sweep: its links hold the maps */
	{
		struct bench_fig f = { "scale", "aging cycle run to completion (ns_aging_pass)", n, "ms",
				       &st, how, note, NULL };

		bench_emit(&f);
	}
	snprintf(how, sizeof(how), "median pass time / %ld sessions", n);
	bench_emit_value("scale", "aging time per session, cycle run to completion", n,
			 "ns/session", st.median * 1e6 / n, how, NULL, NULL);
	snprintf(how, sizeof(how), "median pass time / aging-interval-ms %u (default)",
		 d.conf.aging_interval_ms);
	bench_emit_value("scale", "aging CPU share if a full cycle ran every aging interval", n, "%",
			 st.median / d.conf.aging_interval_ms * 100.0, how, NULL,
			 n >= 10000000 ? "<= 5" : NULL);
	snprintf(how, sizeof(how), "median pass time / %d%%: how long natsyncd's sliced cycle takes "
		 "at its CPU cap (or the aging interval, if longer)", NS_AGING_CPU_SHARE_PCT);
	bench_emit_value("scale", "aging cycle length at the 4 % cap, computed", n, "s",
			 st.median / 1e3 * 100.0 / NS_AGING_CPU_SHARE_PCT, how, NULL, NULL);
	if (o->quick) { /* the full run measures 10M itself */
		snprintf(how, sizeof(how), "linear extrapolation of the %ld-session pass to 10M "
			 "sessions, / aging-interval-ms %u", n, d.conf.aging_interval_ms);
		bench_emit_value("scale", "aging CPU share if a full cycle ran every aging "
				 "interval, extrapolated", 10000000, "%",
				 st.median * (1e7 / n) / d.conf.aging_interval_ms * 100.0, how,
				 "estimate, not a measurement", "<= 5");
	}
}

/* One table size: memory, load+pin+attach, aging (if asked). */
static int scale_size(const struct bench_opts *o, const char *dir, long n, long aging_n)
{
	int ifindex = (int)if_nametoindex(BENCH_IF_IN);
	char why[256], how[256];
	uint64_t t0, t1;
	struct nsb *b;
	int err;

	t0 = ns_now();
	b = nsb_open(n, false, why, sizeof(why));
	if (!b) {
		bench_emit_na("scale", "kernel map memory per session", n, why, "<= 256");
		bench_emit_na("scale", "load + pin + attach", n, why, NULL);
		return -1;
	}
	err = pin_attach(b, dir, ifindex);
	t1 = ns_now();
	if (err) {
		snprintf(why, sizeof(why), "error: pin/attach failed: %s", strerror(-err));
		bench_emit_na("scale", "load + pin + attach", n, why, NULL);
	} else {
		snprintf(how, sizeof(how), "open + load (maps of %ld entries allocated) + pin all "
			 "maps + XDP attach on one veth, wall clock, one run", n);
		bench_emit_value("scale", "load + pin + attach", n, "s", secs(t0, t1), how, NULL, NULL);
	}
	unpin_detach(b, dir, ifindex);
	emit_memory(b, n);
	if (aging_n > 0)
		emit_aging(b, o, aging_n);
	nsb_close(b);
	return 0;
}

int cmd_scale(const struct bench_opts *o, const char *pin_dir)
{
	if (!if_nametoindex(BENCH_IF_IN)) {
		fprintf(stderr, "bench: %s missing: run through tests/bench/run.sh\n", BENCH_IF_IN);
		return -1;
	}
	/* BENCH_SCALE_ONLY=N: one full table of N sessions, aged (a developer's
	 * look at one size; make bench runs both). */
	if (getenv("BENCH_SCALE_ONLY")) {
		long n = atol(getenv("BENCH_SCALE_ONLY"));

		return n > 0 ? scale_size(o, pin_dir, n, n) : -1;
	}
	/* Quick: the 1M table is aged with 100k sessions in it, 10M not aged. */
	scale_size(o, pin_dir, 1000000, o->quick ? 100000 : 1000000);
	scale_size(o, pin_dir, 10000000, o->quick ? 0 : 10000000);
	return 0;
}
