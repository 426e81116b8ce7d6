// SPDX-License-Identifier: GPL-2.0
/*
 * sync_lat.c - replication latency, measured on the primary: for every new
 * session sent as an incremental SESSION_ADD on its SESSION_OPEN event or
 * from the due wheel when it came due (not in a bulk, not found late by a
 * pass over the map: an event missed, sessions written by a tool), the time from
 * the moment it became due (created + replication threshold; with threshold
 * 0 its creation) to the backup's ACK of the frame that carried it. The
 * backup ACKs a frame once it has installed it, so this is "installed on
 * the backup" plus the ACK's way back, on one clock (the primary's).
 *
 * A sample waits in a ring from the record's queueing until its frame is
 * acknowledged: tagged with the frame's lo serial when the batch goes on
 * the lo queue, mapped to the frame's sequence number when the frame
 * starts on the wire. Samples the ring cannot hold are counted, not
 * measured; a closed connection drops what was pending.
 */
#include <string.h>

#include "sync_int.h"

void sy_lat_reset_pending(struct ns_sync *s)
{
	struct sync_lat *l = &s->lat;

	l->unmeasured += l->tail - l->head;
	l->head = l->tail = l->framed = 0;
}

void sy_lat_queued(struct ns_sync *s, uint64_t due_ns)
{
	struct sync_lat *l = &s->lat;

	if (l->tail - l->head >= SYNC_LAT_RING) {
		l->unmeasured++;
		return;
	}
	l->ring[l->tail % SYNC_LAT_RING].due_ns = due_ns;
	l->ring[l->tail % SYNC_LAT_RING].serial = 0;
	l->tail++;
}

void sy_lat_framed(struct ns_sync *s, uint32_t lo_serial)
{
	struct sync_lat *l = &s->lat;

	for (; l->framed != l->tail; l->framed++)
		l->ring[l->framed % SYNC_LAT_RING].serial = lo_serial;
}

void sy_lat_started(struct ns_sync *s, uint32_t lo_serial, uint32_t seq)
{
	struct sync_lat *l = &s->lat;

	l->seq_of[lo_serial % SYNC_LAT_FRAMES] = seq;
	l->serial_of[lo_serial % SYNC_LAT_FRAMES] = lo_serial;
}

static void record(struct sync_lat *l, uint64_t ns)
{
	uint64_t b = ns / SYNC_LAT_BUCKET_NS;

	if (b >= SYNC_LAT_BUCKETS)
		l->over++;
	else
		l->hist[b]++;
	l->measured++;
	if (ns > l->max_ns)
		l->max_ns = ns;
}

void sy_lat_acked(struct ns_sync *s, const struct sync_conn *c, uint32_t seq, uint64_t now)
{
	struct sync_lat *l = &s->lat;

	while (l->head != l->framed) {
		struct sync_lat_sample *x = &l->ring[l->head % SYNC_LAT_RING];
		uint32_t i = x->serial % SYNC_LAT_FRAMES;

		/* not on the wire yet: neither it nor what follows is acked */
		if ((int32_t)(c->lo_started - x->serial) < 0)
			break;
		if (l->serial_of[i] != x->serial) {
			l->unmeasured++; /* its frame's sequence was overwritten */
		} else {
			if ((int32_t)(seq - l->seq_of[i]) < 0)
				break;
			record(l, now > x->due_ns ? now - x->due_ns : 0);
		}
		l->head++;
	}
}

uint64_t sy_lat_quantile_ns(const struct sync_lat *l, double q)
{
	uint64_t want, n = 0;

	if (!l->measured)
		return 0;
	want = (uint64_t)(q * (double)l->measured + 0.999999);
	if (!want)
		want = 1;
	for (uint32_t b = 0; b < SYNC_LAT_BUCKETS; b++) {
		n += l->hist[b];
		if (n >= want)
			return (b + 1) * SYNC_LAT_BUCKET_NS; /* the bucket's upper bound */
	}
	return l->max_ns; /* in the overflow: the largest seen bounds it */
}
