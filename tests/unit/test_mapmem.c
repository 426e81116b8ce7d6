// SPDX-License-Identifier: GPL-2.0
/*
 * test_mapmem.c - show status' map memory (daemon/mapmem.c) over real BPF
 * maps: every open map is listed with the kernel's own accounting, the
 * total is their sum, and a short output array still counts them all.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "daemon/daemon.h"
#include "daemon/loader.h"
#include "daemon/mapmem.h"

static struct ns_daemon md; /* large (config): not on the stack */

static int mk(const char *name, uint32_t vsz, uint32_t max)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, 8, vsz, max, NULL);

	cr_assert_geq(fd, 0, "bpf_map_create %s: %s", name, strerror(errno));
	return fd;
}

Test(mapmem, every_open_map_with_the_kernels_accounting)
{
	struct ns_map_mem m[4];
	long long total = -1, a, b;
	int n;

	if (geteuid() != 0)
		cr_skip_test("needs root (BPF maps)");
	memset(&md, 0, sizeof(md));
	ns_loader_init_fds(&md.fd);
	md.fd.sessions = mk("ns_sessions", 64, 4096);
	md.fd.paired = mk("ns_paired", 16, 1024);
	a = ns_map_memlock(md.fd.sessions);
	b = ns_map_memlock(md.fd.paired);
	cr_assert_gt(a, 4096 * 64, "a preallocated 4096 x 64 B map: %lld B", a);
	cr_assert_gt(b, 0);

	n = ns_map_memory(&md, m, 4, &total);
	cr_assert_eq(n, 2, "only the open maps: %d", n);
	cr_assert_eq(total, a + b);
	cr_assert_str_eq(m[0].name, "ns_sessions");
	cr_assert_eq(m[0].max_entries, 4096);
	cr_assert_eq(m[0].bytes, a);
	cr_assert_str_eq(m[1].name, "ns_paired");
	cr_assert_eq(m[1].bytes, b);

	/* Room for one: both still counted and summed. */
	n = ns_map_memory(&md, m, 1, &total);
	cr_assert_eq(n, 2);
	cr_assert_eq(total, a + b);

	cr_assert_eq(ns_map_memlock(-1), -1);
	ns_loader_close_fds(&md.fd);
}
