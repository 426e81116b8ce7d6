// SPDX-License-Identifier: GPL-2.0
/*
 * test_sync_hold.c - held bindings on their way to the backup (sync_hold.c):
 * what waits is sent in order and bounded, a bulk walks real ns_ports-shaped
 * BPF hash maps for the held entries only, and the backup's install writes
 * exactly the held entry (and the EIM entry) the primary had.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/sync_hold.h"
#include "daemon/util.h"

#define NOW (1000ull * 1000000000)

static struct sync_hold *h;
static int ports_fd = -1, eim_fd = -1;
static uint8_t frame[NSW_MAX_FRAME];

static int new_map(const char *name, size_t ksz, size_t vsz)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, ksz, vsz, 4096, NULL);

	cr_assert_geq(fd, 0, "bpf_map_create %s: %s", name, strerror(errno));
	return fd;
}

static void setup(void)
{
	h = calloc(1, sizeof(*h));
	cr_assert_not_null(h);
}

/* A test's own .init runs after the suite's (setup: h is allocated). */
static void setup_maps(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (BPF maps)");
	ports_fd = new_map("nsu_hold_ports", sizeof(struct ns_port_key), sizeof(struct ns_port_val));
	eim_fd = new_map("nsu_hold_eim", sizeof(struct ns_eim_key), sizeof(struct ns_eim_val));
}

static void teardown(void)
{
	sync_hold_fini(h);
	free(h);
	if (ports_fd >= 0)
		close(ports_fd);
	if (eim_fd >= 0)
		close(eim_fd);
	ports_fd = eim_fd = -1;
}

/* Port i of 203.0.113.112, owned by 100.64.70.10:(40000 + i). */
static void binding(unsigned int i, bool held, struct ns_port_key *k, struct ns_port_val *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	k->addr = htonl(0xcb007170u);
	k->port = htons((uint16_t)(2000 + i));
	k->proto = IPPROTO_TCP;
	v->in_addr = htonl(0x6446460au);
	v->in_port = htons((uint16_t)(40000 + i));
	v->flags = held ? NS_PORT_F_HOLD : 0;
	v->pool_id = 3;
	v->svc_set = 1;
	v->nat_term = 4;
	v->last_used_ns = NOW - 60ull * 1000000000;
	v->released_ns = held ? NOW - (uint64_t)(i + 1) * 1000000 : 0;
}

/* Decode one PORT_HOLD frame of n bytes into out; returns the count. */
static size_t decode(int n, struct nsw_hold *out, size_t max)
{
	struct nsw_hdr hd;
	size_t got;

	cr_assert_gt(n, 0);
	cr_assert_eq(nsw_frame_check(frame, (size_t)n, &hd), 0);
	cr_assert_eq(hd.type, NSW_PORT_HOLD);
	cr_assert_eq(nsw_decode_holds(frame + NSW_HDR_LEN, hd.length, out, max, &got), 0);
	return got;
}

TestSuite(sync_hold, .init = setup, .fini = teardown);

Test(sync_hold, waiting_records_go_out_in_order_over_frames)
{
	static struct nsw_hold out[NSW_BATCH_MAX_HOLDS];
	unsigned int total = 2000, seen = 0;
	struct ns_port_key k;
	struct ns_port_val v;

	cr_assert(!sync_hold_busy(h));
	cr_assert_eq(sync_hold_frame(h, -1, frame, sizeof(frame), NOW, UINT64_MAX), 0,
		     "nothing waits: no frame");
	for (unsigned int i = 0; i < total; i++) {
		binding(i, true, &k, &v);
		sync_hold_note(h, &k, &v, NOW);
	}
	cr_assert(sync_hold_busy(h));
	while (sync_hold_busy(h)) {
		size_t n = decode(sync_hold_frame(h, -1, frame, sizeof(frame), NOW, UINT64_MAX),
				  out, NSW_BATCH_MAX_HOLDS);

		for (size_t j = 0; j < n; j++, seen++) {
			cr_assert_eq(ntohs(out[j].key.port), 2000 + seen, "record %u out of order", seen);
			cr_assert_eq(out[j].held_ms, seen + 1);
			cr_assert_eq(out[j].flags, 0);
		}
	}
	cr_assert_eq(seen, total);
	cr_assert_eq(h->sent, total);
	cr_assert_eq(h->dropped, 0);
	/* the list starts over once everything went */
	binding(7, true, &k, &v);
	sync_hold_note(h, &k, &v, NOW);
	cr_assert_eq(decode(sync_hold_frame(h, -1, frame, sizeof(frame), NOW, UINT64_MAX), out, 1),
		     1);
}

Test(sync_hold, waiting_records_are_bounded)
{
	struct ns_port_key k;
	struct ns_port_val v;

	binding(1, true, &k, &v);
	for (unsigned int i = 0; i < SYNC_HOLD_PENDING_MAX + 5; i++)
		sync_hold_note(h, &k, &v, NOW);
	cr_assert_eq(h->dropped, 5, "%llu not queued", (unsigned long long)h->dropped);
	cr_assert_eq(h->n - h->off, SYNC_HOLD_PENDING_MAX);
	/* a reset (new bulk, new connection) forgets them; counters stay */
	sync_hold_reset(h);
	cr_assert(!sync_hold_busy(h));
	cr_assert_eq(h->dropped, 5);
}

Test(sync_hold, bulk_sends_the_held_entries_only, .init = setup_maps)
{
	static struct nsw_hold out[NSW_BATCH_MAX_HOLDS];
	unsigned int held = 0, seen = 0;
	bool got[1500] = { false };

	for (unsigned int i = 0; i < 1500; i++) {
		struct ns_port_key k;
		struct ns_port_val v;

		binding(i, i % 3 == 0, &k, &v);
		held += i % 3 == 0;
		cr_assert_eq(bpf_map_update_elem(ports_fd, &k, &v, BPF_NOEXIST), 0);
	}
	sync_hold_bulk_start(h);
	while (sync_hold_busy(h)) {
		int n = sync_hold_frame(h, ports_fd, frame, sizeof(frame), NOW, UINT64_MAX);
		size_t c;

		cr_assert_geq(n, 0, "walk failed: %d", n);
		if (!n)
			continue;
		c = decode(n, out, NSW_BATCH_MAX_HOLDS);
		for (size_t j = 0; j < c; j++) {
			unsigned int i = ntohs(out[j].key.port) - 2000;

			cr_assert_eq(i % 3, 0, "port %u is not held, sent anyway", 2000 + i);
			cr_assert(!got[i], "port %u sent twice", 2000 + i);
			got[i] = true;
			cr_assert_eq(out[j].held_ms, i + 1);
			seen++;
		}
	}
	cr_assert_eq(seen, held);
}

Test(sync_hold, bulk_walk_stops_at_its_deadline, .init = setup_maps)
{
	struct ns_port_key k;
	struct ns_port_val v;

	binding(0, true, &k, &v);
	cr_assert_eq(bpf_map_update_elem(ports_fd, &k, &v, BPF_NOEXIST), 0);
	sync_hold_bulk_start(h);
	/* a deadline already over: no walk, nothing sent, come back later */
	cr_assert_eq(sync_hold_frame(h, ports_fd, frame, sizeof(frame), NOW, 0), 0);
	cr_assert(sync_hold_busy(h));
	cr_assert_gt(sync_hold_frame(h, ports_fd, frame, sizeof(frame), NOW, UINT64_MAX), 0);
}

Test(sync_hold, install_holds_as_on_the_primary, .init = setup_maps)
{
	struct ns_port_key k, k2;
	struct ns_port_val v, got;
	struct ns_eim_key ek;
	struct ns_eim_val ev;
	struct nsw_hdr hd;
	uint64_t now = ns_now();
	int n;

	/* the primary: port 2005 held 6 ms, endpoint-independent */
	binding(5, true, &k, &v);
	v.flags |= NS_PORT_F_EIM | NS_PORT_F_EIF;
	sync_hold_note(h, &k, &v, NOW);
	binding(6, true, &k2, &v);
	sync_hold_note(h, &k2, &v, NOW);
	n = sync_hold_frame(h, -1, frame, sizeof(frame), NOW, UINT64_MAX);
	cr_assert_eq(nsw_frame_check(frame, (size_t)n, &hd), 0);
	/* the backup, on its own clock */
	cr_assert_eq(sync_hold_install(h, ports_fd, eim_fd, frame + NSW_HDR_LEN, hd.length, now), 0);
	cr_assert_eq(h->received, 2);
	cr_assert_eq(h->installed, 2);
	cr_assert_eq(h->install_fail, 0);
	cr_assert_eq(bpf_map_lookup_elem(ports_fd, &k, &got), 0);
	cr_assert_eq(got.flags, NS_PORT_F_HOLD | NS_PORT_F_EIM | NS_PORT_F_EIF);
	cr_assert_eq(got.released_ns, now - 6ull * 1000000);
	cr_assert_eq(got.in_addr, htonl(0x6446460au));
	cr_assert_eq(got.in_port, htons(40005));
	cr_assert_eq(got.pool_id, 3);
	cr_assert_eq(got.svc_set, 1);
	cr_assert_eq(got.nat_term, 4);
	memset(&ek, 0, sizeof(ek));
	ek.in_addr = got.in_addr;
	ek.in_port = got.in_port;
	ek.proto = IPPROTO_TCP;
	ek.svc_set = 1;
	cr_assert_eq(bpf_map_lookup_elem(eim_fd, &ek, &ev), 0, "EIM entry of the held port");
	cr_assert_eq(ev.out_addr, k.addr);
	cr_assert_eq(ev.out_port, k.port);
	cr_assert_eq(ev.flags, NS_PORT_F_EIM, "as the fast path writes it");
	/* not endpoint-independent: no EIM entry */
	ek.in_port = htons(40006);
	cr_assert_neq(bpf_map_lookup_elem(eim_fd, &ek, &ev), 0);
	cr_assert_eq(bpf_map_lookup_elem(ports_fd, &k2, &got), 0);
	cr_assert_eq(got.flags, NS_PORT_F_HOLD);
	/* garbage installs nothing and says why */
	frame[NSW_HDR_LEN + 2 + 13] = 0x80;
	cr_assert_eq(sync_hold_install(h, ports_fd, eim_fd, frame + NSW_HDR_LEN, hd.length, now),
		     -NSW_E_VALUE);
	cr_assert_eq(h->received, 2);
	/* no map: counted as failures */
	frame[NSW_HDR_LEN + 2 + 13] = NS_PORT_F_EIM;
	cr_assert_eq(sync_hold_install(h, -1, -1, frame + NSW_HDR_LEN, hd.length, now), 0);
	cr_assert_eq(h->install_fail, 2);
}
