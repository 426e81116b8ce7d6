/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mapmem.h - what natsync's BPF maps cost in kernel memory, as the kernel
 * accounts it (the "memlock" line of a map fd's fdinfo), for show status and
 * the benchmarks: memory is every map, not only the session table.
 */
#ifndef NATSYNC_MAPMEM_H
#define NATSYNC_MAPMEM_H

#include <stdint.h>

struct ns_daemon;

/* The kernel's accounting of one map (bytes), or -1 (no such fd/line). */
long long ns_map_memlock(int fd);

struct ns_map_mem {
	char name[16];         /* the kernel's name of the map */
	uint32_t max_entries;
	long long bytes;       /* memlock */
};

/*
 * Every map d holds open (the fast path's, and the aging sweep's when it is
 * loaded) into m[0, max); returns how many there are (may exceed max: then
 * only max were written), *total gets their sum.
 */
int ns_map_memory(struct ns_daemon *d, struct ns_map_mem *m, int max, long long *total);

#endif
