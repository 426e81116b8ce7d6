// SPDX-License-Identifier: GPL-2.0
/*
 * test_loop.c - the event loop's stall statistics (daemon/loop.c), which
 * show status reports: every callback is counted, the longest is kept, and
 * each lands in the bucket of its duration. A callback that sleeps 30 ms
 * can only be slower on a busy machine, never faster, so the checks hold
 * under load.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>

#include "daemon/loop.h"

static int ticks;

static void slow_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct timespec ts = { .tv_nsec = 30 * 1000 * 1000 };

	(void)fd;
	(void)events;
	(void)arg;
	nanosleep(&ts, NULL);
	if (++ticks == 3)
		loop_stop(loop);
}

Test(loop, stall_statistics_count_every_callback_and_keep_the_longest)
{
	struct ns_loop *l = loop_new();
	struct ns_loop_stats st;
	uint64_t sum = 0;
	int slow_bucket = 0, fd;

	cr_assert_not_null(l);
	loop_get_stats(l, &st);
	cr_assert_eq(st.callbacks, 0);
	cr_assert_eq(st.max_ns, 0);
	fd = loop_add_timer(l, 1, slow_cb, NULL);
	cr_assert_geq(fd, 0);
	loop_set_name(l, fd, "slow timer");
	cr_assert_eq(loop_run(l), 0);
	loop_get_stats(l, &st);
	cr_assert_eq(st.callbacks, 3);
	cr_assert_geq(st.max_ns, 30 * 1000 * 1000ull, "%llu ns", (unsigned long long)st.max_ns);
	/* 30 ms is past the 20 ms bound: the three land in the buckets above it */
	while (slow_bucket < NS_LOOP_BUCKETS - 1 && NS_LOOP_BUCKET_US[slow_bucket] < 30000)
		slow_bucket++;
	for (int b = 0; b < NS_LOOP_BUCKETS; b++) {
		sum += st.hist[b];
		if (b < slow_bucket)
			cr_assert_eq(st.hist[b], 0, "bucket %d: %llu", b,
				     (unsigned long long)st.hist[b]);
	}
	cr_assert_eq(sum, 3);
	/* the longest is named, and it slept: almost none of it was CPU */
	cr_assert_str_eq(st.max_name, "slow timer");
	cr_assert_lt(st.max_cpu_ns, st.max_ns / 2, "cpu %llu of %llu ns",
		     (unsigned long long)st.max_cpu_ns, (unsigned long long)st.max_ns);
	loop_free(l);
}

static void busy_cb(struct ns_loop *loop, int fd, uint32_t events, void *arg)
{
	struct timespec a, b;

	(void)fd;
	(void)events;
	(void)arg;
	/* 20 ms of this thread's own CPU time, however long that takes */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec) < 20000000ll);
	loop_stop(loop);
}

Test(loop, longest_stall_reports_its_cpu_time_and_an_unnamed_source_by_fd)
{
	struct ns_loop *l = loop_new();
	struct ns_loop_stats st;
	char want[24];
	int fd;

	cr_assert_not_null(l);
	fd = loop_add_timer(l, 1, busy_cb, NULL);
	cr_assert_geq(fd, 0);
	cr_assert_eq(loop_run(l), 0);
	loop_get_stats(l, &st);
	snprintf(want, sizeof(want), "fd %d", fd);
	cr_assert_str_eq(st.max_name, want);
	cr_assert_geq(st.max_cpu_ns, 20000000ull, "cpu %llu ns", (unsigned long long)st.max_cpu_ns);
	cr_assert_geq(st.max_ns, st.max_cpu_ns);
	loop_free(l);
}
