// SPDX-License-Identifier: GPL-2.0
/*
 * test_sublimit.c - the daemon's half of max-sessions-per-subscriber
 * (daemon/sublimit.c): deleted sessions counted per subscriber in
 * ns_sub_closed (only those this box's fast path counted), idle
 * subscribers removed from both maps. Real BPF hash maps: root only.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "daemon/sublimit.h"

static int created_fd = -1, closed_fd = -1;

static int new_map(const char *name)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, sizeof(struct ns_sub_key),
				sizeof(uint64_t), 64, NULL);

	cr_assert_geq(fd, 0, "bpf_map_create %s: %s", name, strerror(errno));
	return fd;
}

static void setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (BPF maps)");
	created_fd = new_map("nsu_sub_created");
	closed_fd = new_map("nsu_sub_closed");
}

static void teardown(void)
{
	if (created_fd >= 0)
		close(created_fd);
	if (closed_fd >= 0)
		close(closed_fd);
}

TestSuite(sublimit, .init = setup, .fini = teardown);

static struct ns_sub_key key(const char *addr, uint16_t svc)
{
	struct ns_sub_key k;

	memset(&k, 0, sizeof(k));
	inet_pton(AF_INET, addr, &k.addr);
	k.svc_set = svc;
	return k;
}

static struct ns_session sess(const char *addr, uint16_t svc, uint32_t flags)
{
	struct ns_session s;

	memset(&s, 0, sizeof(s));
	inet_pton(AF_INET, addr, &s.in_key.saddr);
	s.svc_set = svc;
	s.flags = flags;
	return s;
}

static uint64_t get(int fd, const char *addr, uint16_t svc)
{
	struct ns_sub_key k = key(addr, svc);
	uint64_t v;

	if (bpf_map_lookup_elem(fd, &k, &v))
		return UINT64_MAX;
	return v;
}

static void put(int fd, const char *addr, uint16_t svc, uint64_t v)
{
	struct ns_sub_key k = key(addr, svc);

	cr_assert_eq(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
}

Test(sublimit, flush_counts_only_counted_local_sessions)
{
	struct ns_sublimit_acc acc = { 0 };
	struct ns_session a = sess("100.64.0.2", 0, NS_SF_SUB_COUNTED | NS_SF_NAT_SRC);
	struct ns_session b = sess("100.64.0.3", 0, NS_SF_SUB_COUNTED);
	struct ns_session b1 = sess("100.64.0.3", 1, NS_SF_SUB_COUNTED);
	struct ns_session plain = sess("100.64.0.4", 0, 0);
	struct ns_session repl = sess("100.64.0.5", 0, NS_SF_SUB_COUNTED | NS_SF_REPLICATED);

	for (int i = 0; i < 3; i++)
		cr_assert_eq(ns_sublimit_note(&acc, &a), 0);
	cr_assert_eq(ns_sublimit_note(&acc, &b), 0);
	cr_assert_eq(ns_sublimit_note(&acc, &b1), 0);
	cr_assert_eq(ns_sublimit_note(&acc, &plain), 0);
	cr_assert_eq(ns_sublimit_note(&acc, &repl), 0);
	cr_assert_eq(acc.n, 5, "the uncounted and the replicated one are not noted");
	cr_assert_eq(ns_sublimit_flush(closed_fd, &acc), 0);
	cr_assert_eq(acc.n, 0);
	cr_assert_null(acc.keys);
	cr_assert_eq(get(closed_fd, "100.64.0.2", 0), 3);
	cr_assert_eq(get(closed_fd, "100.64.0.3", 0), 1);
	cr_assert_eq(get(closed_fd, "100.64.0.3", 1), 1, "per service set");
	cr_assert_eq(get(closed_fd, "100.64.0.4", 0), UINT64_MAX);
	cr_assert_eq(get(closed_fd, "100.64.0.5", 0), UINT64_MAX);

	/* a second step adds to what is there */
	cr_assert_eq(ns_sublimit_note(&acc, &a), 0);
	cr_assert_eq(ns_sublimit_flush(closed_fd, &acc), 0);
	cr_assert_eq(get(closed_fd, "100.64.0.2", 0), 4);
}

Test(sublimit, flush_without_map_only_empties)
{
	struct ns_sublimit_acc acc = { 0 };
	struct ns_session a = sess("100.64.0.2", 0, NS_SF_SUB_COUNTED);

	cr_assert_eq(ns_sublimit_note(&acc, &a), 0);
	cr_assert_eq(ns_sublimit_flush(-1, &acc), 0);
	cr_assert_eq(acc.n, 0);
}

Test(sublimit, gc_removes_idle_subscribers_only)
{
	put(created_fd, "100.64.0.2", 0, 5);
	put(closed_fd, "100.64.0.2", 0, 5);  /* idle */
	put(created_fd, "100.64.0.3", 0, 4);
	put(closed_fd, "100.64.0.3", 0, 1);  /* 3 live */
	put(closed_fd, "100.64.0.4", 0, 2);  /* created lost in a reset race */
	put(created_fd, "100.64.0.6", 0, 2); /* never closed anything */
	cr_assert_eq(ns_sublimit_gc(created_fd, closed_fd), 2);
	cr_assert_eq(get(created_fd, "100.64.0.2", 0), UINT64_MAX);
	cr_assert_eq(get(closed_fd, "100.64.0.2", 0), UINT64_MAX);
	cr_assert_eq(get(closed_fd, "100.64.0.4", 0), UINT64_MAX);
	cr_assert_eq(get(created_fd, "100.64.0.3", 0), 4);
	cr_assert_eq(get(closed_fd, "100.64.0.3", 0), 1);
	cr_assert_eq(get(created_fd, "100.64.0.6", 0), 2);
	cr_assert_eq(ns_sublimit_gc(created_fd, closed_fd), 0, "nothing more to do");
	cr_assert_eq(ns_sublimit_gc(-1, closed_fd), 0, "no maps: no-op");
}

/* An IPv6 subscriber (NAT64) is its /64: the fold of the /64, nat64 = 1;
 * gc forgets it like an IPv4 one. */
Test(sublimit, nat64_subscriber_is_its_64)
{
	struct ns_sublimit_acc acc = { 0 };
	struct ns_session s = sess("0.0.0.0", 0, NS_SF_SUB_COUNTED);
	uint8_t a1[16], a2[16], p64[16] = { 0 };
	struct ns_sub_key k;
	uint64_t v = 0;

	inet_pton(AF_INET6, "2001:db8:64::10", a1);
	inet_pton(AF_INET6, "2001:db8:64::11", a2);
	memcpy(p64, a1, 8);
	cr_assert_eq(ns_sublimit_note64(&acc, &s, a1), 0);
	cr_assert_eq(ns_sublimit_note64(&acc, &s, a2), 0);
	cr_assert_eq(ns_sublimit_flush(closed_fd, &acc), 0);
	memset(&k, 0, sizeof(k));
	k.addr = ns_nat64_fold(p64);
	k.nat64 = 1;
	cr_assert_eq(bpf_map_lookup_elem(closed_fd, &k, &v), 0, "one key for the /64");
	cr_assert_eq(v, 2);
	k.nat64 = 0;
	cr_assert_neq(bpf_map_lookup_elem(closed_fd, &k, &v), 0, "never an IPv4 subscriber's key");
	k.nat64 = 1;
	v = 2;
	cr_assert_eq(bpf_map_update_elem(created_fd, &k, &v, BPF_ANY), 0);
	cr_assert_eq(ns_sublimit_gc(created_fd, closed_fd), 1, "idle /64 forgotten");
	cr_assert_neq(bpf_map_lookup_elem(closed_fd, &k, &v), 0);
}
