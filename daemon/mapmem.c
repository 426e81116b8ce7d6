// SPDX-License-Identifier: GPL-2.0
/* mapmem.c - kernel memory of natsync's maps (see mapmem.h). */
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "aging.h"
#include "daemon.h"
#include "mapmem.h"
#include "util.h"

long long ns_map_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	if (fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int add_map(int fd, struct ns_map_mem *m, int n, int max, long long *total)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	long long bytes = ns_map_memlock(fd);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bytes < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return n;
	*total += bytes;
	if (n < max) {
		ns_strlcpy(m[n].name, info.name, sizeof(m[n].name));
		m[n].max_entries = info.max_entries;
		m[n].bytes = bytes;
	}
	return n + 1;
}

int ns_map_memory(struct ns_daemon *d, struct ns_map_mem *m, int max, long long *total)
{
	int fds[8], n = 0, k;

	*total = 0;
	/* struct ns_map_fds is ints only, in declaration order */
	for (int *fd = &d->fd.sessions; fd <= &d->fd.nat64_terms; fd++)
		n = add_map(*fd, m, n, max, total);
	k = ns_aging_map_fds(d, fds, (int)NS_ARRAY_SIZE(fds));
	for (int i = 0; i < k; i++)
		n = add_map(fds[i], m, n, max, total);
	return n;
}
