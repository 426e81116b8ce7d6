// SPDX-License-Identifier: GPL-2.0
/*
 * test_sync_lat.c - the replication latency meter (daemon/sync_lat.c): a
 * sample is measured only once the frame that carried it is acknowledged,
 * with the time from its due moment to the ACK; unframed or unstarted
 * samples wait; a reset drops and counts what was pending.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sync_int.h"

static struct ns_sync *s;
static struct sync_conn c;

static void setup(void)
{
	s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	memset(&c, 0, sizeof(c));
}

static void teardown(void)
{
	free(s);
}

TestSuite(sync_lat, .init = setup, .fini = teardown);

#define MS 1000000ull

/* Frame k on lo: enqueued (the batch's samples framed), then started. */
static void frame(uint32_t seq)
{
	c.lo_enq++;
	sy_lat_framed(s, c.lo_enq);
	c.lo_started++;
	sy_lat_started(s, c.lo_started, seq);
}

Test(sync_lat, measured_only_when_its_frame_is_acked)
{
	sy_lat_queued(s, 100 * MS);
	sy_lat_queued(s, 101 * MS);
	frame(10);
	sy_lat_queued(s, 102 * MS); /* next batch, not framed yet */
	sy_lat_acked(s, &c, 9, 200 * MS);
	cr_assert_eq(s->lat.measured, 0, "seq 10 not acked yet");
	sy_lat_acked(s, &c, 10, 105 * MS);
	cr_assert_eq(s->lat.measured, 2, "both samples of frame 10");
	cr_assert_eq(s->lat.max_ns, 5 * MS);
	cr_assert_eq(s->lat.hist[(5 * MS) / SYNC_LAT_BUCKET_NS], 1);
	cr_assert_eq(s->lat.hist[(4 * MS) / SYNC_LAT_BUCKET_NS], 1);
	sy_lat_acked(s, &c, 11, 300 * MS);
	cr_assert_eq(s->lat.measured, 2, "the third is in no frame yet");
	frame(11);
	sy_lat_acked(s, &c, 11, 110 * MS);
	cr_assert_eq(s->lat.measured, 3);
	cr_assert_eq(s->lat.max_ns, 8 * MS);
}

Test(sync_lat, framed_but_not_started_waits)
{
	sy_lat_queued(s, 1 * MS);
	c.lo_enq++;
	sy_lat_framed(s, c.lo_enq); /* on lo, not on the wire */
	sy_lat_acked(s, &c, 1000, 50 * MS);
	cr_assert_eq(s->lat.measured, 0);
	c.lo_started++;
	sy_lat_started(s, c.lo_started, 1001);
	sy_lat_acked(s, &c, 1001, 50 * MS);
	cr_assert_eq(s->lat.measured, 1);
	cr_assert_eq(s->lat.max_ns, 49 * MS);
}

Test(sync_lat, reset_counts_pending_as_unmeasured)
{
	sy_lat_queued(s, 1 * MS);
	sy_lat_queued(s, 2 * MS);
	frame(5);
	sy_lat_queued(s, 3 * MS);
	sy_lat_reset_pending(s);
	cr_assert_eq(s->lat.unmeasured, 3);
	memset(&c, 0, sizeof(c)); /* a new connection: serials restart */
	sy_lat_queued(s, 10 * MS);
	frame(1);
	sy_lat_acked(s, &c, 1, 12 * MS);
	cr_assert_eq(s->lat.measured, 1);
	cr_assert_eq(s->lat.max_ns, 2 * MS);
}

Test(sync_lat, full_ring_counts_unmeasured)
{
	for (uint32_t i = 0; i < SYNC_LAT_RING + 7; i++)
		sy_lat_queued(s, 0);
	cr_assert_eq(s->lat.unmeasured, 7);
	frame(1);
	sy_lat_acked(s, &c, 1, 1 * MS);
	cr_assert_eq(s->lat.measured, SYNC_LAT_RING);
}

Test(sync_lat, quantiles_are_bucket_upper_bounds)
{
	/* 100 samples, one frame each, acked i ms + 0.2 ms after they were due */
	for (uint32_t i = 0; i < 100; i++) {
		sy_lat_queued(s, 0);
		frame(i + 1);
		sy_lat_acked(s, &c, i + 1, i * MS + 200000);
	}
	cr_assert_eq(s->lat.measured, 100);
	/* the 50th sample is 49.2 ms: its 0.5 ms bucket ends at 49.5 ms */
	cr_assert_eq(sy_lat_quantile_ns(&s->lat, 0.50), 49 * MS + SYNC_LAT_BUCKET_NS);
	cr_assert_eq(sy_lat_quantile_ns(&s->lat, 0.99), 98 * MS + SYNC_LAT_BUCKET_NS);
	cr_assert_eq(s->lat.max_ns, 99 * MS + 200000);
}

Test(sync_lat, beyond_the_histogram_counted_over)
{
	sy_lat_queued(s, 0);
	frame(1);
	sy_lat_acked(s, &c, 1, 400 * MS);
	cr_assert_eq(s->lat.over, 1);
	cr_assert_eq(sy_lat_quantile_ns(&s->lat, 0.99), 400 * MS, "the max bounds it");
}
